"""The certificate journey's print port over the printers: through the real ESC/POS driver
and the virtual printer on TCP (paper out mid-job, held, reprinted marked 【重印】), and with
small in-process devices for the A4 choice and the races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from drivers.base import EventHub, Health, HealthState
from drivers.docprinter.interface import DocPrintFailure, DocumentPrinterUnavailable
from drivers.docprinter.interface import PrintCompleted as DocCompleted
from drivers.docprinter.interface import PrintFailed as DocFailed
from drivers.printer.escpos import EscPosPrinter
from drivers.printer.interface import PrintCompleted
from kiosk.flow.print_kit import Printed
from kiosk.printing import JobWatch, PrintKit
from simulators.printer.service import PrinterSimulator
from tests.harness.waiting import wait_for
from tests.kiosk.device_fakes import PDF, sample_certificate

DOCUMENT = sample_certificate().receipt.document()


# Through the real driver and the virtual printer -------------------------------------------

@pytest.fixture(scope="module")
def virtual() -> Iterator[tuple[PrinterSimulator, EscPosPrinter, PrintKit]]:
    sim = PrinterSimulator(pty=False)
    sim.start()
    printer = EscPosPrinter(sim.tcp_url, poll_interval_s=0.2)
    printer.start()
    kit = PrintKit(printer, None, job_timeout_s=20)
    try:
        yield sim, printer, kit
    finally:
        kit.close()
        printer.stop()
        sim.stop()


def _ready(printer: EscPosPrinter) -> None:
    wait_for(lambda: printer.health().state is HealthState.OK, "the printer to be ready")


def test_a_certificate_prints_on_the_virtual_receipt_printer(virtual) -> None:
    sim, printer, kit = virtual
    _ready(printer)
    assert not kit.a4
    before = len(sim.printer.jobs())
    outcome = kit.print_receipt(DOCUMENT)
    assert outcome.ok and outcome.job_id
    job = sim.printer.jobs()[before]
    assert job.complete and "参保证明" in job.text() and "110105********002X" in job.text()


def test_paper_out_mid_job_is_held_and_reprinted_marked_after_the_refill(virtual) -> None:
    sim, printer, kit = virtual
    _ready(printer)
    before = len(sim.printer.jobs())
    sim.printer.set_paper("out", after_lines=2)
    interrupted = kit.print_receipt(DOCUMENT)
    assert interrupted.state is Printed.PAPER_OUT and interrupted.held
    assert interrupted.job_id is not None
    # Still no paper: the job stays held, nothing more is printed.
    assert kit.reprint(interrupted.job_id).held
    assert kit.print_receipt(DOCUMENT).state is Printed.PAPER_OUT  # no new job while held
    sim.printer.set_paper("ok")
    _ready(printer)
    again = kit.reprint(interrupted.job_id)
    assert again.ok and again.reprint_of == interrupted.job_id
    first, second = sim.printer.jobs()[before:before + 2]
    assert first.interrupted and not first.complete
    assert second.complete and second.text().startswith("【重印】")


def test_a_declined_reprint_is_discarded_and_printing_goes_on(virtual) -> None:
    sim, printer, kit = virtual
    _ready(printer)
    sim.printer.set_paper("out", after_lines=2)
    interrupted = kit.print_receipt(DOCUMENT)
    assert interrupted.held and interrupted.job_id is not None
    kit.discard(interrupted.job_id)
    assert printer.held_job() is None
    sim.printer.set_paper("ok")
    _ready(printer)
    assert kit.print_receipt(DOCUMENT).ok


# Small devices ---------------------------------------------------------------------------

class Device:
    """Publishes its job's outcome from another thread, possibly before the kit waits."""

    def __init__(self, health_code: str = "ok", early: bool = False) -> None:
        self.hub = EventHub()
        self.code = health_code
        self.early = early
        self.refuse: Exception | None = None
        self.outcome: Any = None
        self.jobs = 0

    def subscribe(self, observer: Any) -> Any:
        return self.hub.subscribe(observer)

    def health(self) -> Health:
        state = HealthState.OK if self.code == "ok" else HealthState.MISSING
        return Health(state, self.code)

    def submit_pdf(self, pdf: bytes, title: str) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.jobs += 1
        job_id = f"d-{self.jobs}"
        event = self.outcome(job_id) if self.outcome else DocCompleted(job_id, pages=1)
        if self.early:
            self.hub.publish(event)
        else:
            threading.Timer(0.05, self.hub.publish, (event,)).start()
        return job_id


def test_a4_is_chosen_while_the_document_printer_is_there() -> None:
    document, receipt = Device(), Device()
    kit = PrintKit(receipt, document)
    assert kit.a4
    document.code = "paper-out"  # out of paper is still the A4 printer: staff refill
    assert kit.a4
    document.code = "printer-missing"  # gone: the receipt version is better than none
    assert not kit.a4
    assert PrintKit(None, document).a4  # nothing else to print on
    assert not PrintKit(receipt, None).a4


@pytest.mark.parametrize("early", [False, True])
def test_the_pdf_job_is_waited_for_even_when_its_event_comes_first(early: bool) -> None:
    document = Device(early=early)
    outcome = PrintKit(None, document, job_timeout_s=5).print_pdf(PDF, "参保证明")
    assert outcome.ok and outcome.pages == 1


def test_a4_failures_and_refusals() -> None:
    document = Device()
    kit = PrintKit(None, document, job_timeout_s=5)
    document.outcome = lambda job_id: DocFailed(job_id, DocPrintFailure.PAPER_OUT)
    assert kit.print_pdf(PDF, "t").state is Printed.PAPER_OUT
    document.refuse = DocumentPrinterUnavailable(DocPrintFailure.OFFLINE)
    assert kit.print_pdf(PDF, "t").state is Printed.OFFLINE
    document.refuse = ValueError("not a PDF")
    assert kit.print_pdf(PDF, "t").state is Printed.FAILED


def test_no_outcome_within_the_deadline_is_a_failure() -> None:
    document = Device()
    document.outcome = lambda job_id: DocCompleted("another-job")
    assert PrintKit(None, document, job_timeout_s=0.2).print_pdf(PDF, "t").state is \
        Printed.FAILED


def test_the_watch_keeps_only_a_few_outcomes() -> None:
    watch = JobWatch()
    for i in range(100):
        watch(PrintCompleted(f"j-{i}"))
    assert watch.wait("j-0", 0) is None and watch.wait("j-99", 0) is not None
