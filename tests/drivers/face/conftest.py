"""Shared, expensive face fixtures: the real dlib engine loaded once per session, the shipped
photos as 640x480 frames, and each photo's encoding computed once."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from drivers.camera.interface import Frame
from drivers.face.dlib_engine import DlibFaceEngine
from drivers.face.interface import FaceTemplate
from drivers.face.liveness import LivenessResult
from simulators.camera.photos import photos


def _load(path: str) -> NDArray[np.uint8]:
    import cv2

    bgr = cv2.imread(path)
    assert bgr is not None, path
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def place_face(engine: DlibFaceEngine, image: NDArray[np.uint8], face_px: int = 210,
               size: tuple[int, int] = (640, 480)) -> Frame:
    """The photo scaled so that its face box is `face_px` wide, centred in a frame."""
    import cv2

    fit = min(1920 / image.shape[1], 1080 / image.shape[0], 1.0)
    image = np.ascontiguousarray(cv2.resize(image, None, fx=fit, fy=fit,
                                            interpolation=cv2.INTER_AREA))
    box = engine.detect(Frame(image, 0, 0.0))[0]
    scale = face_px / (box.right - box.left)
    big = cv2.resize(image, None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    width, height = size
    cx, cy = (box.left + box.right) / 2 * scale, (box.top + box.bottom) / 2 * scale
    x0, y0 = int(cx - width / 2), int(cy - height / 2)
    out = np.zeros((height, width, 3), np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + width, big.shape[1]), min(y0 + height, big.shape[0])
    out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = big[sy0:sy1, sx0:sx1]
    return Frame(out, 0, 0.0)


@pytest.fixture(scope="session")
def engine() -> DlibFaceEngine:
    face = DlibFaceEngine()
    face.load()
    return face


@pytest.fixture(scope="session")
def photo_frames(engine: DlibFaceEngine) -> dict[str, Frame]:
    """"a0", "a1", "a2", "b0": each shipped photo as a 640x480 frame with a 210-px face."""
    found = {}
    for identity in ("a", "b"):
        for i, photo in enumerate(photos(identity)):
            found[f"{identity}{i}"] = place_face(engine, _load(str(photo.path)))
    return found


@pytest.fixture(scope="session")
def encodings(engine: DlibFaceEngine, photo_frames: dict[str, Frame]) -> dict[str, FaceTemplate]:
    return {name: engine.encode(frame) for name, frame in photo_frames.items()}


@pytest.fixture(scope="session")
def template_a(encodings: dict[str, FaceTemplate]) -> FaceTemplate:
    """Central's enrolment template: person A's first photo."""
    return encodings["a0"]


def run_persona(engine: DlibFaceEngine, template: FaceTemplate, name: str, *, seed: int = 0,
                challenges: tuple[str, ...] | None = None, fps: float = 15.0,
                seconds: float = 30.0) -> LivenessResult:
    """One liveness attempt against a simulated-camera persona, frame by frame."""
    import random

    from drivers.face.liveness import LivenessCheck, draw_challenges
    from simulators.camera.personas import make_persona

    persona = make_persona(name, seed=seed)
    check = LivenessCheck(engine, template, challenges or draw_challenges(random.Random(seed)))
    sequence, t = 0, 0.0
    while not check.done and t <= seconds:
        pixels = persona.frame(t, check.progress.current)
        check.feed(Frame(pixels, sequence, t))
        sequence += 1
        t = sequence / fps
    return check.result()


@pytest.fixture(scope="session")
def live_result(engine: DlibFaceEngine, template_a: FaceTemplate) -> LivenessResult:
    """A passed attempt by the live persona (its evidence feeds the judge's tests)."""
    result = run_persona(engine, template_a, "live", seed=0,
                         challenges=("turn-left", "open-mouth", "nod"))
    assert result.passed, result.reason
    return result
