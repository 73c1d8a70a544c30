"""The receipt printer's typed interface: documents in, job results and paper state out.

Documents are structured (lines, emphasis, a QR code) rather than raw ESC/POS, so the kiosk
never deals in printer bytes and a test can read back what was printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

# Health: "ok"; degraded "paper-low"; missing "paper-out", "cover-open", "printer-missing"
# (not connected), "printer-error".


@dataclass(frozen=True, repr=False)
class ReceiptLine:
    text: str  # may be citizen data (a name, an ID number): repr shows its length only
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    double_size: bool = False

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

    def __repr__(self) -> str:
        return f"ReceiptDocument({len(self.lines)} lines, qr={self.qr is not None})"


class PrintFailure(StrEnum):
    PAPER_OUT = "paper-out"
    COVER_OPEN = "cover-open"
    OFFLINE = "offline"  # not connected, or stopped answering mid-job
    CUTTER_JAM = "cutter-jam"
    ERROR = "error"


@dataclass(frozen=True)
class PrintCompleted(DeviceEvent):
    job_id: str


@dataclass(frozen=True)
class PrintFailed(DeviceEvent):
    job_id: str
    failure: PrintFailure
    detail: str = ""  # operator-facing English; never document text


@runtime_checkable
class ReceiptPrinter(Device, Protocol):
    """Queues documents and prints them on its own thread.

    Events per job: PrintCompleted or PrintFailed; paper and cover state come as
    HealthChanged (paper-low is degraded: printing still works).
    """

    kind: str  # "printer"

    def submit(self, document: ReceiptDocument) -> str:
        """Queue a document; returns its job id at once. Raises PrinterUnavailable when the
        printer cannot print now (health is missing), so the kiosk can offer another way."""
        ...


class PrinterUnavailable(Exception):
    def __init__(self, failure: PrintFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail
