"""Both frame decoders through the same tests, on frames of the seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.qr.decode import BACKENDS, make_decoder, to_gray
from simulators.qr.frames import Degradation, FrameGenerator, degraded_set

TOKEN = "AgAAAAEAAAAAaXBhc3N3b3JkMTIzNDU2Nzg5MGFiY2RlZg-_x"
# Degraded, but within what both libraries read (the benchmark measures the hard set).
MODERATE = [
    Degradation(module_px=6, rotate_deg=20, tilt_deg=20),
    Degradation(module_px=7, blur_sigma=1.0, noise_sigma=6),
    Degradation(module_px=7, contrast=0.45),
    Degradation(module_px=7, glare=0.3, rotate_deg=-60),
    Degradation(module_px=8, moire=0.25),
]


@pytest.fixture(scope="module", params=BACKENDS)
def decoder(request):
    return make_decoder(request.param)


def test_a_clean_code_is_read_exactly(decoder):
    frame = FrameGenerator(seed=3).render(TOKEN)
    assert frame.shape == (720, 1280, 3)
    (code,) = decoder.decode(frame)
    assert code.payload == TOKEN.encode() and code.symbology == "QR"
    assert TOKEN not in repr(code)


@pytest.mark.parametrize("degradation", MODERATE, ids=lambda d: ",".join(
    f"{k}={v}" for k, v in d.as_dict().items() if v not in (0.0, 1.0) and k != "module_px"))
def test_moderately_degraded_codes_are_read(decoder, degradation):
    frame = FrameGenerator(seed=5).render(TOKEN, degradation)
    assert [c.payload for c in decoder.decode(frame)] == [TOKEN.encode()]


def test_grey_input_and_a_frame_without_a_code(decoder):
    frame = FrameGenerator(seed=4).render(TOKEN)
    assert decoder.decode(to_gray(frame))[0].payload == TOKEN.encode()
    assert decoder.decode(np.full((720, 1280, 3), 128, np.uint8)) == []


def test_most_of_a_hard_set_is_read(decoder):
    samples = degraded_set(30, seed=11)
    read = sum(any(c.payload == s.payload.encode() for c in decoder.decode(s.pixels))
               for s in samples)
    assert read >= 18, f"{decoder.name} read {read}/30"


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 4), np.uint8), np.zeros((4,), np.uint8)])
def test_other_shapes_are_refused(decoder, bad):
    with pytest.raises(ValueError):
        decoder.decode(bad)


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError):
        make_decoder("opencv")
