"""The dlib engine on the shipped photos: lazy loading, 1:1 verification, quality reasons."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from drivers.camera.interface import Frame
from drivers.face.dlib_engine import DlibFaceEngine, template_distance
from drivers.face.interface import FaceEngine, FaceTemplate, NoFaceFound
from drivers.face.landmarks import LandmarkModel
from drivers.face.quality import VERIFY_TOLERANCE


def test_importing_and_constructing_loads_no_model() -> None:
    code = textwrap.dedent("""
        import sys
        import drivers.face
        from drivers.face import DlibFaceEngine, LivenessCheck, judge_evidence, VERIFY_TOLERANCE
        from drivers.face.evidence import evidence_from_json
        engine = DlibFaceEngine()
        engine.start(); engine.health(); engine.stop()
        assert not engine.loaded
        assert "dlib" not in sys.modules, "dlib imported before first use"
        assert "face_recognition" not in sys.modules
        engine.detect_fast
        print("lazy-ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "lazy-ok" in done.stdout


def test_the_engine_keeps_the_interfaces(engine: DlibFaceEngine) -> None:
    assert isinstance(engine, FaceEngine)
    assert isinstance(engine, LandmarkModel)
    assert engine.kind == "face"
    versions = engine.versions()
    assert versions["dlib"] and "shape_predictor_68" in versions["landmarks"]


def test_same_person_verifies_and_another_does_not(
        engine: DlibFaceEngine, photo_frames: dict[str, Frame],
        encodings: dict[str, FaceTemplate], template_a: FaceTemplate) -> None:
    for name in ("a1", "a2"):
        match = engine.verify(template_a, photo_frames[name])
        assert match.same_person, (name, match.distance)
        assert match.distance < VERIFY_TOLERANCE - 0.05  # calibrated with a margin
    impostor = engine.verify(template_a, photo_frames["b0"])
    assert not impostor.same_person
    assert impostor.distance > VERIFY_TOLERANCE + 0.15
    assert template_distance(encodings["a1"], encodings["a2"]) < VERIFY_TOLERANCE
    matches = engine.compare(template_a, [encodings["a1"], encodings["b0"]])
    assert [m.same_person for m in matches] == [True, False]


def test_fast_detection_finds_the_face_in_full_frame_pixels(
        engine: DlibFaceEngine, photo_frames: dict[str, Frame]) -> None:
    frame = photo_frames["a0"]
    fast, full = engine.detect_fast(frame), engine.detect(frame)
    assert len(fast) == len(full) == 1
    (cx, cy), (fx, fy) = [((b.left + b.right) / 2, (b.top + b.bottom) / 2) for b in (fast[0],
                                                                                   full[0])]
    assert abs(cx - fx) < 20 and abs(cy - fy) < 20  # the same face, not half-scale coordinates
    assert engine.landmarks(frame, fast[0]).shape == (68, 2)


def _frame(pixels: np.ndarray) -> Frame:
    return Frame(np.ascontiguousarray(pixels), 0, 0.0)


def test_a_good_photo_passes_quality(engine: DlibFaceEngine,
                                     photo_frames: dict[str, Frame]) -> None:
    verdict = engine.quality(photo_frames["a0"])
    assert verdict.ok, verdict.reasons
    assert verdict.box is not None and verdict.measures is not None


def test_quality_reasons_each_on_its_own(engine: DlibFaceEngine,
                                         photo_frames: dict[str, Frame]) -> None:
    good = photo_frames["a0"].pixels
    empty = np.full_like(good, 128)
    assert engine.quality(_frame(empty)).reasons == ("no-face",)
    small = np.zeros_like(good)
    shrunk = cv2.resize(good, (320, 240), interpolation=cv2.INTER_AREA)  # a ~105 px face
    small[120:360, 160:480] = shrunk
    assert engine.quality(_frame(small)).reasons == ("face-too-small",)
    dark = (good.astype(np.float32) * 0.25).astype(np.uint8)
    assert "too-dark" in engine.quality(_frame(dark)).reasons
    blurred = cv2.GaussianBlur(good, (0, 0), 3)
    assert engine.quality(_frame(blurred)).reasons == ("blurred",)
    # A ~30-degree turned head (photo A #2) is not frontal enough.
    assert "not-frontal" in engine.quality(photo_frames["a1"]).reasons


def test_two_faces_side_by_side(engine: DlibFaceEngine, photo_frames: dict[str, Frame]) -> None:
    left = photo_frames["a0"].pixels[:, 160:480]
    right = photo_frames["b0"].pixels[:, 160:480]
    both = np.hstack([left, right])
    verdict = engine.quality(_frame(both))
    assert "two-faces" in verdict.reasons
    with pytest.raises(NoFaceFound):
        engine.encode(_frame(both))
    with pytest.raises(NoFaceFound):
        engine.encode(_frame(np.full_like(both, 90)))
