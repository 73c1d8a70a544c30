"""A frame's pixels as a PNG of bounded width and size (the control route's screenshot).

Kivy-free, so that it is testable without a window.
"""

from __future__ import annotations

import io

from kiosk.status_server import MAX_SCREENSHOT_BYTES

MIN_SHRINK_WIDTH = 64


def encode_png(width: int, height: int, pixels: bytes, max_width: int,
               max_bytes: int = MAX_SCREENSHOT_BYTES) -> bytes:
    """The frame scaled to at most `max_width` (never enlarged), as PNG no larger than
    `max_bytes`: a busier frame is scaled down further until it fits."""
    from PIL import Image

    image = Image.frombytes("RGB", (width, height), pixels)
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # GL rows start at the bottom
    target = min(max_width, width)
    while True:
        scaled = image if target == width else image.resize(
            (target, max(1, round(height * target / width))), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        scaled.save(out, format="PNG", optimize=False, compress_level=6)
        png = out.getvalue()
        if len(png) <= max_bytes or target <= MIN_SHRINK_WIDTH:
            if len(png) > max_bytes:
                raise ValueError("even the smallest screenshot is too large")
            return png
        target = max(MIN_SHRINK_WIDTH, int(target * 0.75))
