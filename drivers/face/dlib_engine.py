"""The face engine on dlib (the models face_recognition ships): detect, landmarks, encode.

Models load lazily, on the first call that needs them (about 1 s and 150 MiB): a kiosk that
never certifies never imports dlib. Detection for tracking runs on a downscale (vision-notes:
HOG upsample 0 on 320x240 costs 7-8 ms against 110 ms for the API default); an encoding costs
about 80 ms and is computed for a few chosen frames only. dlib calls are not thread-safe on
one model object: a lock serialises them (the engine is called from one worker anyway).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drivers.base import EventHub, Health, HealthState, HealthTracker, Observer, Unsubscribe
from drivers.camera.interface import Frame
from drivers.face.interface import (
    DEFAULT_TOLERANCE,
    KIND,
    FaceBox,
    FaceEngineUnavailable,
    FaceHealthCode,
    FaceMatch,
    FaceTemplate,
    NoFaceFound,
)
from drivers.face.landmarks import Landmarks
from drivers.face.measures import measure
from drivers.face.quality import VERIFY_TOLERANCE, QualityVerdict, assess

log = logging.getLogger(__name__)

LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"
# Encodings are aligned on dlib's 5-point model, as face_recognition's default does: central's
# templates come from face_recognition, and an encoding aligned on the 68 points sits ~0.12
# away from the same photo's 5-point one (a fifth of the tolerance). The 5-point model is CC0.
ALIGNER_MODEL = "shape_predictor_5_face_landmarks.dat"
ENCODER_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SLOW_ENCODE_S = 1.0  # ~12x the measured 80 ms: the CPU is overloaded


class _Models:
    def __init__(self, dlib: Any, detector: Any, predictor: Any, aligner: Any, encoder: Any,
                 versions: dict[str, str]) -> None:
        self.dlib = dlib
        self.detector = detector
        self.predictor = predictor
        self.aligner = aligner
        self.encoder = encoder
        self.versions = versions


def _model_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceEngineUnavailable("face_recognition_models is not installed")
    # Located without importing it: its __init__ imports pkg_resources (vision-notes trap).
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _to_box(rect: Any, scale: float = 1.0) -> FaceBox:
    return FaceBox(top=round(rect.top() * scale), right=round(rect.right() * scale),
                   bottom=round(rect.bottom() * scale), left=round(rect.left() * scale))


def _largest_first(boxes: list[FaceBox]) -> list[FaceBox]:
    return sorted(boxes, key=lambda b: b.area, reverse=True)


class DlibFaceEngine:
    """FaceEngine and LandmarkModel on dlib's HOG detector, 68-point predictor and ResNet."""

    kind = KIND

    def __init__(self, *, detect_width: int = 320, model_dir: Path | None = None) -> None:
        self._detect_width = detect_width
        self._model_dir = model_dir
        self._models: _Models | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._hub = EventHub()
        self._health = HealthTracker(KIND, self._hub.publish, Health(HealthState.OK, "ok"), log)

    # Device -------------------------------------------------------------------------------
    def start(self) -> None:
        self._health.restart()  # models still load on first use, not here

    def stop(self) -> None:
        pass

    def health(self) -> Health:
        return self._health.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    @property
    def loaded(self) -> bool:
        return self._models is not None

    def load(self) -> None:
        """Load the models now (the first detect/encode does it anyway)."""
        self._get_models()

    def _get_models(self) -> _Models:
        models = self._models
        if models is not None:
            return models
        with self._load_lock:
            if self._models is None:
                self._models = self._load_models()
            return self._models

    def _load_models(self) -> _Models:
        try:
            import dlib
        except Exception as exc:  # ImportError, or no AVX / a missing shared library
            self._health.set(HealthState.MISSING, FaceHealthCode.ENGINE_ERROR,
                             f"dlib failed to load: {exc}")
            raise FaceEngineUnavailable(f"dlib failed to load: {exc}") from exc
        try:
            directory = self._model_dir or _model_dir()
            landmark_path, encoder_path = directory / LANDMARK_MODEL, directory / ENCODER_MODEL
            aligner_path = directory / ALIGNER_MODEL
            missing = [p.name for p in (landmark_path, aligner_path, encoder_path)
                       if not p.is_file()]
            if missing:
                raise FaceEngineUnavailable(f"face model files missing: {', '.join(missing)}")
            started = time.perf_counter()
            models = _Models(
                dlib, dlib.get_frontal_face_detector(),
                dlib.shape_predictor(str(landmark_path)),
                dlib.shape_predictor(str(aligner_path)),
                dlib.face_recognition_model_v1(str(encoder_path)),
                {"dlib": str(dlib.__version__),
                 "detector": "dlib-hog-frontal",
                 "landmarks": f"{LANDMARK_MODEL}:{landmark_path.stat().st_size}",
                 "aligner": f"{ALIGNER_MODEL}:{aligner_path.stat().st_size}",
                 "encoder": f"{ENCODER_MODEL}:{encoder_path.stat().st_size}"})
        except FaceEngineUnavailable as exc:
            self._health.set(HealthState.MISSING, FaceHealthCode.MODELS_MISSING, str(exc))
            raise
        except Exception as exc:  # a corrupt model file
            self._health.set(HealthState.MISSING, FaceHealthCode.ENGINE_ERROR,
                             f"face models failed to load: {exc}")
            raise FaceEngineUnavailable(f"face models failed to load: {exc}") from exc
        log.info("face models loaded in %.1f s", time.perf_counter() - started)
        self._health.set(HealthState.OK, FaceHealthCode.OK)
        return models

    def versions(self) -> dict[str, str]:
        return dict(self._get_models().versions)

    # Detection and landmarks --------------------------------------------------------------
    def detect(self, frame: Frame) -> list[FaceBox]:
        """Faces in the full frame, HOG upsample 0 (faces >= ~80 px), largest first."""
        models = self._get_models()
        with self._lock:
            rects = models.detector(frame.pixels, 0)
        return _largest_first([_to_box(r) for r in rects])

    def detect_fast(self, frame: Frame) -> list[FaceBox]:
        """Faces found on a downscale to <= detect_width, in full-frame pixels."""
        models = self._get_models()
        scale = max(1, math.ceil(frame.width / self._detect_width))
        if scale == 1:
            small = frame.pixels
        else:
            import cv2

            small = cv2.resize(frame.pixels, (frame.width // scale, frame.height // scale),
                               interpolation=cv2.INTER_AREA)
        with self._lock:
            rects = models.detector(small, 0)
        return _largest_first([_to_box(r, scale) for r in rects])

    def _shape(self, models: _Models, pixels: NDArray[np.uint8], box: FaceBox, *,
               aligner: bool = False) -> Any:
        rect = models.dlib.rectangle(box.left, box.top, box.right, box.bottom)
        with self._lock:
            return (models.aligner if aligner else models.predictor)(pixels, rect)

    def landmarks(self, frame: Frame, box: FaceBox) -> Landmarks:
        models = self._get_models()
        shape = self._shape(models, frame.pixels, box)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    # Templates ----------------------------------------------------------------------------
    def encode(self, frame: Frame, box: FaceBox | None = None) -> FaceTemplate:
        models = self._get_models()
        if box is None:
            boxes = self.detect(frame)
            if len(boxes) != 1:
                raise NoFaceFound("no face found" if not boxes else "more than one face found")
            box = boxes[0]
        shape = self._shape(models, frame.pixels, box, aligner=True)
        started = time.perf_counter()
        with self._lock:
            descriptor = models.encoder.compute_face_descriptor(frame.pixels, shape, 1)
        took = time.perf_counter() - started
        if took > SLOW_ENCODE_S:
            self._health.set(HealthState.DEGRADED, FaceHealthCode.SLOW,
                             f"a face encoding took {took:.1f} s")
        return FaceTemplate(tuple(float(v) for v in descriptor))

    def compare(self, known: FaceTemplate, candidates: Sequence[FaceTemplate],
                tolerance: float = DEFAULT_TOLERANCE) -> list[FaceMatch]:
        return [FaceMatch(distance=template_distance(known, c), tolerance=tolerance)
                for c in candidates]

    def verify(self, template: FaceTemplate, frame: Frame, box: FaceBox | None = None,
               tolerance: float = VERIFY_TOLERANCE) -> FaceMatch:
        """1:1: is the face in the frame the person of `template`? (NoFaceFound)"""
        live = self.encode(frame, box)
        return FaceMatch(distance=template_distance(template, live), tolerance=tolerance)

    def quality(self, frame: Frame, boxes: list[FaceBox] | None = None) -> QualityVerdict:
        """Is this frame good enough to verify on? Each problem is its own reason."""
        if boxes is None:
            boxes = self.detect(frame)
        points = self.landmarks(frame, boxes[0]) if boxes else None
        return assess(frame.pixels, boxes, points, measure(points) if points is not None else None)


def template_distance(a: FaceTemplate, b: FaceTemplate) -> float:
    return float(np.linalg.norm(np.asarray(a.values) - np.asarray(b.values)))
