"""The control screenshot's encoding (kiosk.ui.png): the asked width, never enlarged, and never
more than the size limit, however busy the frame."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from kiosk.ui.png import encode_png


def _gl_rows(image: Image.Image) -> bytes:
    """Pixels as glReadPixels gives them: RGB, bottom row first."""
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()


def test_scaled_to_the_asked_width_and_upright() -> None:
    frame = Image.new("RGB", (400, 800), (255, 255, 255))
    frame.paste((200, 0, 0), (0, 0, 400, 100))  # a red band at the top
    png = Image.open(io.BytesIO(encode_png(400, 800, _gl_rows(frame), 100)))
    assert png.format == "PNG" and png.size == (100, 200)
    assert png.convert("RGB").getpixel((50, 5)) == (200, 0, 0)  # the top stays the top
    assert png.convert("RGB").getpixel((50, 195)) == (255, 255, 255)


def test_never_enlarged() -> None:
    frame = Image.new("RGB", (320, 480), (10, 20, 30))
    assert Image.open(io.BytesIO(encode_png(320, 480, _gl_rows(frame), 1920))).width == 320


def test_a_frame_too_busy_for_the_limit_is_scaled_down_until_it_fits() -> None:
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    png = encode_png(600, 600, _gl_rows(noise), 600, max_bytes=200_000)
    assert len(png) <= 200_000 and 64 <= Image.open(io.BytesIO(png)).width < 600
    with pytest.raises(ValueError):
        encode_png(600, 600, _gl_rows(noise), 600, max_bytes=1_000)
