"""The terminal's printers as the certificate journey's port (kiosk.flow.print_kit.PrintPort).

A4 on the document printer where one is configured (drivers/docprinter, CUPS), else the
receipt version on the receipt printer (drivers/printer, ESC/POS). Each call runs on a worker:
it submits the job and waits for that job's PrintCompleted or PrintFailed, within a total
deadline; the outcome is the journey's answer. The events are taken from the printers' own
subscriptions and kept (a few, by job id) so one that comes before the wait starts is not lost.

A receipt job cut short by paper out is held by the driver; `reprint` prints it again marked
【重印】, `discard` forgets it (/tmp/team/api-printer.md: nothing printed twice unknowingly).
Documents are never logged; job ids and outcomes are.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from drivers.absent import Absent
from drivers.base import DeviceEvent
from drivers.printer.interface import PrinterUnavailable, ReceiptDocument
from drivers.registry import PeripheralKind
from kiosk.flow.print_kit import Printed, PrintOutcome
from kiosk.peripherals import Peripherals

log = logging.getLogger(__name__)

KEEP_RESULTS = 32  # job outcomes remembered: far more than one kiosk prints at once
# drivers' failure values -> what the citizen is told
_FAILURES = {
    "paper-out": Printed.PAPER_OUT,
    "cover-open": Printed.COVER_OPEN,
    "offline": Printed.OFFLINE,
}


class JobWatch:
    """Outcome events of one printer's jobs, by job id; waited for with a deadline."""

    def __init__(self) -> None:
        self._results: OrderedDict[str, DeviceEvent] = OrderedDict()
        self._changed = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        if type(event).__name__ not in ("PrintCompleted", "PrintFailed"):
            return
        job_id = getattr(event, "job_id", None)
        if not isinstance(job_id, str):
            return
        with self._changed:
            self._results[job_id] = event
            while len(self._results) > KEEP_RESULTS:
                self._results.popitem(last=False)
            self._changed.notify_all()

    def wait(self, job_id: str, timeout_s: float) -> DeviceEvent | None:
        with self._changed:
            self._changed.wait_for(lambda: job_id in self._results, timeout=timeout_s)
            return self._results.pop(job_id, None)


def outcome_of(event: DeviceEvent | None, job_id: str) -> PrintOutcome:
    if event is None:  # the driver's own deadline should have ended it first
        return PrintOutcome(Printed.FAILED, job_id)
    if type(event).__name__ == "PrintCompleted":
        return PrintOutcome(Printed.DONE, job_id, pages=getattr(event, "pages", None),
                            reprint_of=getattr(event, "reprint_of", None))
    failure = str(getattr(event, "failure", ""))
    return PrintOutcome(_FAILURES.get(failure, Printed.FAILED), job_id,
                        held=bool(getattr(event, "held", False)))


class PrintKit:
    """PrintPort over the running receipt printer and document printer (either may be None)."""

    def __init__(self, receipt: Any | None, document: Any | None, *,
                 job_timeout_s: float = 150.0) -> None:
        self._receipt, self._document = receipt, document
        self._timeout_s = job_timeout_s
        self._receipt_jobs, self._document_jobs = JobWatch(), JobWatch()
        self._unsubscribe: list[Callable[[], None]] = []
        for device, watch in ((receipt, self._receipt_jobs), (document, self._document_jobs)):
            if device is not None:
                self._unsubscribe.append(device.subscribe(watch))

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    @property
    def a4(self) -> bool:
        if self._document is None:
            return False
        # A document printer that is gone altogether (no such queue, cupsd down) prints
        # nothing: the receipt version is better than none. Out of paper still counts as A4:
        # the citizen is told, staff refill, and the A4 copy is what was asked for.
        code = self._document.health().code
        return self._receipt is None or code not in ("printer-missing", "cups-unavailable")

    @property
    def receipt(self) -> bool:
        return self._receipt is not None

    def print_pdf(self, pdf: bytes, title: str) -> PrintOutcome:
        printer = self._document
        if printer is None:
            return PrintOutcome(Printed.OFFLINE)
        try:
            job_id = printer.submit_pdf(pdf, title)
        except ValueError:
            log.error("print: the document printer refused the certificate's PDF")
            return PrintOutcome(Printed.FAILED)
        except Exception as exc:  # DocumentPrinterUnavailable: paper out, offline
            failure = str(getattr(exc, "failure", "offline"))
            log.warning("print: the document printer cannot print now (%s)", failure)
            return PrintOutcome(_FAILURES.get(failure, Printed.OFFLINE))
        return self._finished(self._document_jobs, job_id)

    def print_receipt(self, document: ReceiptDocument) -> PrintOutcome:
        printer = self._receipt
        if printer is None:
            return PrintOutcome(Printed.OFFLINE)
        try:
            job_id = printer.submit(document)
        except PrinterUnavailable as exc:
            log.warning("print: the receipt printer cannot print now (%s)", exc.failure)
            return PrintOutcome(_FAILURES.get(str(exc.failure), Printed.OFFLINE))
        return self._finished(self._receipt_jobs, job_id)

    def reprint(self, job_id: str) -> PrintOutcome:
        printer = self._receipt
        if printer is None:
            return PrintOutcome(Printed.OFFLINE)
        try:
            new_id = printer.reprint(job_id)
        except KeyError:  # no longer held (discarded, or the driver restarted)
            log.warning("print: job %s is no longer held", job_id)
            return PrintOutcome(Printed.FAILED)
        except PrinterUnavailable as exc:  # still no paper: keep holding it
            return PrintOutcome(_FAILURES.get(str(exc.failure), Printed.OFFLINE), job_id,
                                held=True)
        return self._finished(self._receipt_jobs, new_id)

    def discard(self, job_id: str) -> None:
        if self._receipt is not None:
            self._receipt.discard(job_id)

    def _finished(self, watch: JobWatch, job_id: str) -> PrintOutcome:
        outcome = outcome_of(watch.wait(job_id, self._timeout_s), job_id)
        log.info("print: job %s %s%s", job_id, outcome.state, " (held)" if outcome.held else "")
        return outcome


def print_kit_from(peripherals: Peripherals) -> PrintKit | None:
    """The terminal's printers, or None when it has neither (the journey is not offered)."""
    receipt = peripherals[PeripheralKind.PRINTER].device
    kind = getattr(PeripheralKind, "DOCPRINTER", None)
    document = peripherals[kind].device if kind is not None else None
    receipt = None if isinstance(receipt, Absent) else receipt
    document = None if isinstance(document, Absent) else document
    if receipt is None and document is None:
        return None
    return PrintKit(receipt, document)
