"""The frame generator: seeded, the right shape, and each degradation changes the frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.camera.interface import Frame
from simulators.qr.frames import TOKEN_ALPHABET, Degradation, FrameGenerator, degraded_set


def test_same_seed_same_frames():
    a, b = degraded_set(3, seed=4), degraded_set(3, seed=4)
    for x, y in zip(a, b, strict=True):
        assert x.payload == y.payload and x.degradation == y.degradation
        assert np.array_equal(x.pixels, y.pixels)
    assert not np.array_equal(a[0].pixels, degraded_set(1, seed=5)[0].pixels)


def test_frames_are_camera_frames():
    sample = degraded_set(1, seed=1)[0]
    assert sample.pixels.shape == (720, 1280, 3) and sample.pixels.dtype == np.uint8
    Frame(sample.pixels, 0, 0.0)  # keeps the camera's frame rules (RGB, contiguous)
    assert len(sample.payload) == 56 and set(sample.payload) <= set(TOKEN_ALPHABET)


@pytest.mark.parametrize("field,value", [
    ("tilt_deg", 35.0), ("blur_sigma", 1.5), ("noise_sigma", 10.0), ("contrast", 0.3),
    ("glare", 0.5), ("moire", 0.3),
])
def test_each_degradation_changes_the_frame(field, value):
    clean = FrameGenerator(seed=9).render("CODE", Degradation())
    spoiled = FrameGenerator(seed=9).render("CODE", dataclasses.replace(Degradation(),
                                                                       **{field: value}))
    assert not np.array_equal(clean, spoiled)


def test_random_degradations_stay_in_range():
    generator = FrameGenerator(seed=1)
    for _ in range(200):
        d = generator.random_degradation()
        assert 3.5 <= d.module_px <= 9 and 0 <= d.tilt_deg <= 40 and 0.25 <= d.contrast <= 1
        assert 0 <= d.glare <= 0.55 and 0 <= d.moire <= 0.35 and d.blur_sigma <= 2
