"""Read rendered text back from a screenshot: proof that Chinese was drawn as glyphs, not boxes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from simulators.stack.requirements import require


def read_chinese(png: Path) -> str:
    """OCR a screenshot with tesseract's Simplified Chinese model; whitespace removed, because
    chi_sim puts spaces between Han characters."""
    require("tesseract", "tesseract-chi-sim")
    result = subprocess.run(
        ["tesseract", str(png), "-", "-l", "chi_sim"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return "".join(result.stdout.split())


def reads(phrase: str, text: str) -> bool:
    """Whether OCR read `phrase` in `text`, allowing one misread glyph in a phrase of five or more.

    tesseract sometimes takes one real glyph for a look-alike (社 as 性, 芯 as 必), and which one
    changes with the clock on screen. Boxes instead of glyphs misread every character, so one
    allowance in a long phrase still proves the font renders.
    """
    if phrase in text:
        return True
    if len(phrase) < 5:
        return False
    n = len(phrase)
    return any(sum(a != b for a, b in zip(phrase, text[i:i + n], strict=True)) <= 1
               for i in range(len(text) - n + 1))
