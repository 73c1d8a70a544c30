"""What the certificate journey needs to print: the terminal's printers, as one port.

kiosk.printing.PrintKit builds it from the running peripherals (the flow touches no device).
Each call runs on a worker and waits for the job's end within a total deadline, so a journey
asks for "print this" as one `Call` and gets the outcome as its answer:

- `print_pdf(pdf, title)` on the A4 document printer (where `a4` is True), else
- `print_receipt(document)` on the receipt printer;
- a receipt job cut short by paper out is *held* by the driver (`PrintOutcome.held`): the
  citizen decides, `reprint(job_id)` (marked 【重印】 by the driver) or `discard(job_id)`, so
  nothing is printed twice without the citizen knowing (docs/printing.md);
- an A4 job the document printer cannot finish (paper out, queue stopped, printer offline) is
  canceled in CUPS by the driver and fails: nothing stays queued to come out later unseen, and
  where `receipt` is True the citizen is offered the receipt version instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from drivers.printer.interface import ReceiptDocument

CAPABILITY = "printer"  # a receipt or an A4 printer


class Printed(StrEnum):
    DONE = "done"
    PAPER_OUT = "paper-out"  # no paper (before or during the job)
    COVER_OPEN = "cover-open"
    OFFLINE = "offline"  # not connected, not answering, or no printer at all
    FAILED = "failed"  # a jam, an error, a timeout


@dataclass(frozen=True)
class PrintOutcome:
    state: Printed
    job_id: str | None = None
    # The driver keeps the interrupted job for a reprint: part of it may be in the tray.
    held: bool = False
    pages: int | None = None
    reprint_of: str | None = None  # a reprint's original job

    @property
    def ok(self) -> bool:
        return self.state is Printed.DONE


class PrintPort(Protocol):
    @property
    def a4(self) -> bool:
        """An A4 document printer is configured (it may still be out of paper)."""
        ...

    @property
    def receipt(self) -> bool:
        """A receipt printer is configured (the fallback when the A4 printer cannot print)."""
        ...

    def print_pdf(self, pdf: bytes, title: str) -> PrintOutcome: ...

    def print_receipt(self, document: ReceiptDocument) -> PrintOutcome: ...

    def reprint(self, job_id: str) -> PrintOutcome: ...

    def discard(self, job_id: str) -> None: ...


_installed: list[PrintPort] = []


def install_printers(port: PrintPort | None) -> None:
    """The app's printers for the certificate journey (None: stopping, or none here)."""
    _installed[:] = [port] if port is not None else []


def installed_printers() -> PrintPort | None:
    return _installed[0] if _installed else None


def has_receipt_printer(port: PrintPort) -> bool:
    # A port written before `receipt` existed (a test's) has none to fall back on.
    return bool(getattr(port, "receipt", False))


def capabilities_of(port: PrintPort | None) -> frozenset[str]:
    return frozenset({CAPABILITY}) if port is not None else frozenset()
