"""A private cupsd for tests (simulators/printer/cupsd.py) and PDFs to print and read back.

`cupsd_fixture()` makes a module-scoped fixture: one scheduler per test module on a free port,
with a cups-pdf queue "PDF" and a capture queue "A4". A missing Debian package or a cupsd
that does not start fails the test with the reason (nothing is skipped).
`cjk_pdf(pages)` is a small A4 document with Chinese text on every page; `pdf_pages()` and
`pdf_text()` read a printed file back page by page.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulators.printer.cupsd import CupsdError, PrivateCupsd

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
PDF_QUEUE = "PDF"
CAPTURE_QUEUE = "A4"


def cupsd_fixture(scope: str = "module") -> Callable[..., Iterator[PrivateCupsd]]:
    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def private_cupsd() -> Iterator[PrivateCupsd]:
        # Its own base directory (pytest's tmp_path is 0700, and CUPS's filters run as lp),
        # which stop() removes.
        cupsd = PrivateCupsd()
        try:
            cupsd.start()
            cupsd.add_pdf_queue(PDF_QUEUE)
            cupsd.add_capture_queue(CAPTURE_QUEUE)
        except CupsdError as exc:
            cupsd.stop()
            pytest.fail(f"private cupsd: {exc}")
        try:
            yield cupsd
        finally:
            cupsd.stop()

    return private_cupsd


@functools.lru_cache(maxsize=8)
def cjk_pdf(pages: int = 1, *, title: str = "参保证明") -> bytes:
    """An A4 PDF: on page N, "<title> 第N页" and a marker "PAGE-N" (fonts embedded). Cached:
    embedding the CJK font takes a good part of a second."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("wqy", "", CJK_FONT)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("wqy", size=22)
        pdf.cell(0, 20, f"{title} 第{number}页", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("wqy", size=14)
        pdf.cell(0, 12, f"PAGE-{number} 社会保险参保缴费情况", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def pdf_text(path: Path, page: int) -> str:
    """The text of one page (1-based), as pdftotext reads it."""
    result = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path), "-"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return result.stdout


def page_ink(path: Path, page: int) -> float:
    """The share of dark pixels of one page rasterised at 40 dpi (cups-pdf keeps no text)."""
    import io

    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "page"
        subprocess.run(
            ["pdftoppm", "-f", str(page), "-l", str(page), "-r", "40", "-gray", "-png",
             "-singlefile", str(path), str(root)],
            capture_output=True, timeout=30, check=True,
        )
        image = Image.open(io.BytesIO(root.with_suffix(".png").read_bytes())).convert("L")
    dark = sum(image.point(lambda value: 255 if value < 128 else 0).histogram()[255:])
    return dark / (image.width * image.height)


def page_size_mm(path: Path, page: int) -> tuple[float, float]:
    from pypdf import PdfReader

    box = PdfReader(str(path)).pages[page - 1].mediabox
    return float(box.width) * 25.4 / 72, float(box.height) * 25.4 / 72
