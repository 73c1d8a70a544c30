"""The printer's interface: bounded documents that hide their text and carry no commands."""

from __future__ import annotations

import pytest

from drivers.printer.interface import (
    MAX_COPIES,
    MAX_LINE_CHARS,
    MAX_LINES,
    PrinterHealthCode,
    PrintFailed,
    PrintFailure,
    ReceiptDocument,
    ReceiptLine,
)


def test_receipts_hide_their_text() -> None:
    line = ReceiptLine("张三", bold=True)
    document = ReceiptDocument("参保证明", (line,), qr="https://x")
    assert "张三" not in repr(document)
    assert "张三" not in repr(line) and "张三" not in repr(document.lines)
    assert PrintFailed(job_id="1", failure=PrintFailure.PAPER_OUT).failure == "paper-out"


@pytest.mark.parametrize("text", ["x" * (MAX_LINE_CHARS + 1), "a\x1b@b", "\x1dV\x00", "\x10\x04"])
def test_a_line_cannot_overflow_or_smuggle_printer_commands(text: str) -> None:
    with pytest.raises(ValueError):
        ReceiptLine(text)


@pytest.mark.parametrize("kwargs", [
    {"lines": (ReceiptLine("x"),) * (MAX_LINES + 1)},
    {"copies": 0}, {"copies": MAX_COPIES + 1}, {"qr": ""}, {"qr": "h" * 513},
])
def test_a_document_is_bounded(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ReceiptDocument("参保证明", **kwargs)  # type: ignore[arg-type]


def test_paper_codes() -> None:
    assert (PrinterHealthCode.PAPER_LOW, PrinterHealthCode.PAPER_OUT) == ("paper-low", "paper-out")
