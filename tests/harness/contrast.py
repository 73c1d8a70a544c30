"""Text contrast measured on a rendered screenshot, not on the theme's intended colours.

For a text's box in the picture: the background is the box's most common colour, the
foreground the box's pixel that contrasts most with it (a glyph's solid core; anti-aliased
edges only contrast less). The ratio is WCAG 2.x's, as kiosk.ui.theme.contrast_ratio computes
it for the palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from kiosk.ui.theme import contrast_ratio

Rgb = tuple[int, int, int]


def hex_of(rgb: Rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


@dataclass(frozen=True)
class Measured:
    ratio: float
    foreground: str  # '#RRGGBB'
    background: str


def open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def measure(image: Image.Image, box: tuple[float, float, float, float]) -> Measured | None:
    """The text contrast inside `box` (x, y, w, h in pixels, y from the top); None when the
    box lies outside the picture. A box of one colour is 1:1: text drawn in its background's
    colour is invisible."""
    x, y, w, h = box
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(image.width, round(x + w)), min(image.height, round(y + h))
    if right - left < 1 or bottom - top < 1:
        return None
    crop = image.crop((left, top, right, bottom))
    colours: list[tuple[int, Rgb]] | None = crop.getcolors(maxcolors=crop.width * crop.height)
    if not colours:
        return None
    background = hex_of(max(colours)[1])
    # Distinct colours only: a glyph-heavy box has a few thousand, each measured once.
    best = max((contrast_ratio(hex_of(rgb), background), hex_of(rgb)) for _, rgb in colours)
    return Measured(round(best[0], 2), best[1], background)
