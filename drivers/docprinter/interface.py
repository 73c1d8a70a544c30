"""The A4 document printer's typed interface: a PDF in, job results and printer state out.

Hall kiosks print official documents (参保证明, 个人权益记录) on a laser printer through the
terminal's CUPS. The kiosk hands over the finished, signed PDF; the printer's driver (CUPS
filters, the PPD) does the rest, so the kiosk never deals in PostScript or PCL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

KIND = "document_printer"  # Device.kind: the key in the kiosk's status document

# A certificate is 40-130 KB (print-notes.md 3); 20 MB leaves room for a long rights record
# with a seal image and keeps a runaway document out of the spool.
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_TITLE_CHARS = 64


class DocPrinterHealthCode(StrEnum):
    OK = "ok"
    TONER_LOW = "toner-low"  # degraded: printing still works
    PAPER_LOW = "paper-low"  # degraded
    PAPER_OUT = "paper-out"  # missing until paper is loaded
    OFFLINE = "offline"  # missing: the queue is stopped or paused, or the printer is offline
    PRINTER_MISSING = "printer-missing"  # missing: CUPS has no such queue
    PRINTER_ERROR = "printer-error"  # missing: jam, door open, other stopping reasons
    CUPS_UNAVAILABLE = "cups-unavailable"  # missing: the scheduler does not answer


class DocPrintFailure(StrEnum):
    PAPER_OUT = "paper-out"
    OFFLINE = "offline"
    ABORTED = "aborted"  # CUPS aborted the job (a filter or backend failed)
    CANCELED = "canceled"  # canceled at the printer or by staff
    TIMEOUT = "timeout"  # not finished within the job's deadline (canceled by the driver)
    ERROR = "error"


def check_pdf(pdf: bytes, title: str) -> None:
    """Refuse what is no PDF, too big, or a title that would carry controls into the queue."""
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("not a PDF (no %PDF- header)")
    if len(pdf) > MAX_PDF_BYTES:
        raise ValueError(f"a document is at most {MAX_PDF_BYTES} bytes")
    if not 0 < len(title) <= MAX_TITLE_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F
                                                    for c in title):
        raise ValueError(f"a title has 1 to {MAX_TITLE_CHARS} characters and no controls")


@dataclass(frozen=True)
class PrintCompleted(DeviceEvent):
    job_id: str
    pages: int | None = None  # as CUPS counted them (job-impressions-completed), when known
    spooler_job: int | None = None  # the CUPS job id, for staff tracing a job in the logs


@dataclass(frozen=True)
class PrintFailed(DeviceEvent):
    job_id: str
    failure: DocPrintFailure
    detail: str = ""  # operator-facing English; never document text


@runtime_checkable
class DocumentPrinter(Device, Protocol):
    """Queues PDFs and follows each job to its end on the driver's thread.

    Events per job: PrintCompleted or PrintFailed (of this module); paper, toner and queue
    state come as HealthChanged (toner-low and paper-low are degraded: printing still works).
    """

    kind: str  # KIND

    def submit_pdf(self, pdf: bytes, title: str) -> str:
        """Queue a PDF; returns the job id at once (the driver's, not CUPS's). Raises
        DocumentPrinterUnavailable when the printer cannot print now (health is missing) and
        ValueError for a document check_pdf() refuses."""
        ...


class DocumentPrinterUnavailable(Exception):
    def __init__(self, failure: DocPrintFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail
