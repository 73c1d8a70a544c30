"""The receipt printer's typed interface: documents in, job results and paper state out.

Documents are structured (lines, emphasis, a QR code) rather than raw ESC/POS, so the kiosk
never deals in printer bytes and a test can read back what was printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

KIND = "printer"  # Device.kind: the key in the kiosk's status document

# Bounds of one document: a receipt or certificate is a page or two. They keep a runaway
# journey from feeding metres of paper, and the ESC/POS job within the printer's buffer.
MAX_LINES = 200
MAX_LINE_CHARS = 96  # 48 columns at 80 mm (576 dots), twice for a long wrapped line
MAX_QR_CHARS = 512  # a verification URL; model 2, EC L/M (print-notes.md)
MAX_COPIES = 3


class PrinterHealthCode(StrEnum):
    OK = "ok"
    PAPER_LOW = "paper-low"  # degraded: printing still works
    PAPER_OUT = "paper-out"  # missing until paper is loaded
    COVER_OPEN = "cover-open"  # missing until closed
    PRINTER_MISSING = "printer-missing"  # missing: not connected, or silent (DLE EOT unanswered)
    PRINTER_ERROR = "printer-error"  # missing: cutter jam, head error


@dataclass(frozen=True, repr=False)
class ReceiptLine:
    text: str  # may be citizen data (a name, an ID number): repr shows its length only
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    double_size: bool = False

    def __post_init__(self) -> None:
        if len(self.text) > MAX_LINE_CHARS:
            raise ValueError(f"a receipt line has at most {MAX_LINE_CHARS} characters")
        if any(c in self.text for c in "\x00\x1b\x1c\x1d\x10"):
            # ESC, FS, GS, DLE and NUL would start printer commands inside the text.
            raise ValueError("a receipt line holds no control characters")

    def __repr__(self) -> str:
        return f"ReceiptLine({len(self.text)} chars, {self.align})"


@dataclass(frozen=True, repr=False)
class ReceiptDocument:
    """A receipt or certificate (参保证明). It may hold citizen data: repr shows no text."""

    title: str
    lines: tuple[ReceiptLine, ...] = ()
    qr: str | None = None  # e.g. a verification URL printed as a QR code under the lines
    footer: str = ""
    copies: int = 1

    def __post_init__(self) -> None:
        if len(self.lines) > MAX_LINES:
            raise ValueError(f"a document has at most {MAX_LINES} lines")
        if len(self.title) > MAX_LINE_CHARS or len(self.footer) > MAX_LINE_CHARS:
            raise ValueError(f"title and footer have at most {MAX_LINE_CHARS} characters")
        if self.qr is not None and not 0 < len(self.qr) <= MAX_QR_CHARS:
            raise ValueError(f"a QR code holds 1 to {MAX_QR_CHARS} characters")
        if not 1 <= self.copies <= MAX_COPIES:
            raise ValueError(f"1 to {MAX_COPIES} copies")

    def __repr__(self) -> str:
        return f"ReceiptDocument({len(self.lines)} lines, qr={self.qr is not None})"


class PrintFailure(StrEnum):
    PAPER_OUT = "paper-out"
    COVER_OPEN = "cover-open"
    OFFLINE = "offline"  # not connected, or stopped answering mid-job
    CUTTER_JAM = "cutter-jam"
    ERROR = "error"


# A reprint's mark: the first line of a job printed again after an interruption, so that
# nobody takes a second copy for a first (drivers/printer/escpos.py, docs/printing.md).
REPRINT_MARK = "【重印】REPRINT"
REPRINT_NOTE = "原打印中断，此为重印件"


@dataclass(frozen=True)
class PrintCompleted(DeviceEvent):
    job_id: str
    reprint_of: str | None = None  # the interrupted job this one printed again, marked 重印


@dataclass(frozen=True)
class PrintFailed(DeviceEvent):
    job_id: str
    failure: PrintFailure
    detail: str = ""  # operator-facing English; never document text
    # Interrupted mid-job (part of it may be in the tray): the driver holds the document
    # until the kiosk calls reprint() (marked 重印) or discard().
    held: bool = False


@dataclass(frozen=True)
class HeldJob:
    """A job interrupted mid-print and kept for a marked reprint. No document text in repr."""

    job_id: str
    failure: PrintFailure
    at: float
    document: ReceiptDocument = field(repr=False)


@runtime_checkable
class ReceiptPrinter(Device, Protocol):
    """Queues documents and prints them on its own thread.

    Events per job: PrintCompleted or PrintFailed; paper and cover state come as
    HealthChanged (paper-low is degraded: printing still works). A job interrupted by paper
    out is held (PrintFailed held=True) and printed again only on reprint(), with the 重印
    mark: never twice without the citizen knowing.
    """

    kind: str  # KIND

    def submit(self, document: ReceiptDocument) -> str:
        """Queue a document; returns its job id at once. Raises PrinterUnavailable when the
        printer cannot print now (health is missing, or a job is held), so the kiosk can offer
        another way."""
        ...

    def held_job(self) -> HeldJob | None:
        """The job interrupted mid-print (PrintFailed held=True) awaiting a decision, if any."""
        ...

    def reprint(self, job_id: str) -> str:
        """Print the held job again, marked 重印; returns the new job id (PrintCompleted carries
        reprint_of). KeyError when that job is not held; PrinterUnavailable while it cannot
        print."""
        ...

    def discard(self, job_id: str) -> None:
        """Forget the held job (the citizen declined the reprint); unknown ids are ignored."""
        ...


class PrinterUnavailable(Exception):
    def __init__(self, failure: PrintFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail
