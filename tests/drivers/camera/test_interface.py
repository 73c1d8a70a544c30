"""The camera's interface: frames that are what the face engine needs, or refused."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.camera.interface import MAX_HEIGHT, MAX_WIDTH, CameraHealthCode, Frame


def test_frames_know_their_size_and_hide_their_pixels() -> None:
    frame = Frame(pixels=np.zeros((480, 640, 3), dtype=np.uint8), sequence=7, captured_at=1.0)
    assert (frame.width, frame.height) == (640, 480)
    assert repr(frame) == "Frame(#7, 640x480)"
    same_pixels = Frame(pixels=frame.pixels, sequence=7, captured_at=1.0)
    assert frame != same_pixels and frame == frame  # identity; comparing arrays would raise
    assert len({frame, same_pixels}) == 2


@pytest.mark.parametrize("pixels", [
    np.zeros((480, 640, 3), dtype=np.uint8)[:, ::-1],  # a mirrored view finds no faces
    np.zeros((480, 640, 4), dtype=np.uint8),  # RGBA raises inside dlib
    np.zeros((480, 640, 3), dtype=np.float32),
    np.zeros((480, 640), dtype=np.uint8),
    np.zeros((MAX_HEIGHT + 1, MAX_WIDTH, 3), dtype=np.uint8),
    np.zeros((0, 640, 3), dtype=np.uint8),
])
def test_frames_the_face_engine_would_misread_are_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError):
        Frame(pixels=pixels, sequence=0, captured_at=0.0)
    mirrored = np.ascontiguousarray(np.zeros((4, 4, 3), dtype=np.uint8)[:, ::-1])
    assert Frame(pixels=mirrored, sequence=0, captured_at=0.0).width == 4


def test_degraded_codes_exist() -> None:
    assert {CameraHealthCode.FROZEN, CameraHealthCode.TOO_DARK} <= set(CameraHealthCode)
