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
