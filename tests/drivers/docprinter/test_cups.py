"""The A4 printer through a real private cupsd: cups-pdf and a capture queue, page by page."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from drivers.base import DeviceEvent, HealthChanged, HealthState
from drivers.docprinter.cups import CupsDocumentPrinter
from drivers.docprinter.interface import (
    DocPrinterHealthCode,
    DocPrintFailure,
    DocumentPrinter,
    DocumentPrinterUnavailable,
    PrintCompleted,
    PrintFailed,
)
from simulators.printer.cupsd import PrivateCupsd
from simulators.stack.ports import free_port
from tests.harness.cups import (
    CAPTURE_QUEUE,
    PDF_QUEUE,
    cjk_pdf,
    cupsd_fixture,
    page_ink,
    page_size_mm,
    pdf_pages,
    pdf_text,
)
from tests.harness.waiting import wait_for

private_cupsd = cupsd_fixture()


class Events:
    def __init__(self, printer: CupsDocumentPrinter) -> None:
        self.queue: queue.Queue[DeviceEvent] = queue.Queue()
        printer.subscribe(self.queue.put)

    def next(self, kind: type, timeout: float = 30.0, **match: object) -> DeviceEvent:
        while True:
            event = self.queue.get(timeout=timeout)
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event

    def health(self, code: str, timeout: float = 30.0) -> HealthChanged:
        event = self.next(HealthChanged, timeout)
        while event.health.code != code:  # type: ignore[attr-defined]
            event = self.next(HealthChanged, timeout)
        return event  # type: ignore[return-value]


def started(cupsd: PrivateCupsd, queue_name: str, **options: object) -> tuple[
        CupsDocumentPrinter, Events]:
    printer = CupsDocumentPrinter(queue_name, server=cupsd.server, poll_interval_s=0.2,
                                  **options)  # type: ignore[arg-type]
    events = Events(printer)
    printer.start()
    return printer, events


@pytest.fixture
def capture(private_cupsd: PrivateCupsd) -> Iterator[tuple[CupsDocumentPrinter, Events]]:
    printer, events = started(private_cupsd, CAPTURE_QUEUE)
    events.health("ok")
    yield printer, events
    printer.stop()
    private_cupsd.set_paper_out(CAPTURE_QUEUE, False)
    private_cupsd.set_toner_low(CAPTURE_QUEUE, False)


def test_it_keeps_the_document_printer_interface(private_cupsd: PrivateCupsd) -> None:
    printer = CupsDocumentPrinter(CAPTURE_QUEUE, server=private_cupsd.server)
    assert isinstance(printer, DocumentPrinter) and printer.kind == "document_printer"


def test_a_three_page_document_arrives_page_by_page(capture, private_cupsd) -> None:
    printer, events = capture
    job = printer.submit_pdf(cjk_pdf(3), "参保证明")
    done = events.next(PrintCompleted, job_id=job)
    path = output(private_cupsd, done)
    assert pdf_pages(path) == 3
    for page in (1, 2, 3):
        text = pdf_text(path, page)
        assert f"PAGE-{page}" in text and f"第{page}页" in text
        width, height = page_size_mm(path, page)
        assert round(width) == 210 and round(height) == 297


def output(cupsd: PrivateCupsd, done: DeviceEvent):
    path = cupsd.output_for(done.spooler_job)  # type: ignore[attr-defined]
    assert path is not None, "no printed file for the job"
    return path


def test_cups_pdf_prints_every_page_on_a4_with_ink(private_cupsd: PrivateCupsd) -> None:
    printer, events = started(private_cupsd, PDF_QUEUE)
    try:
        events.health("ok")
        job = printer.submit_pdf(cjk_pdf(2), "参保证明")
        done = events.next(PrintCompleted, job_id=job)
        path = output(private_cupsd, done)
        assert pdf_pages(path) == 2
        for page in (1, 2):
            # cups-pdf's gs turns the text into outlines: the raster shows it was printed.
            assert page_ink(path, page) > 0.001
            width, height = page_size_mm(path, page)
            assert round(width) == 210 and round(height) == 297
    finally:
        printer.stop()


def test_paper_out_shows_while_the_job_waits_and_it_prints_once_after(
        capture, private_cupsd: PrivateCupsd) -> None:
    printer, events = capture
    private_cupsd.set_paper_out(CAPTURE_QUEUE, True)
    job = printer.submit_pdf(cjk_pdf(1), "参保证明")
    lost = events.health("paper-out")
    assert lost.health.state is HealthState.MISSING
    with pytest.raises(DocumentPrinterUnavailable) as refused:
        printer.submit_pdf(cjk_pdf(1), "second")
    assert refused.value.failure is DocPrintFailure.PAPER_OUT
    private_cupsd.set_paper_out(CAPTURE_QUEUE, False)
    done = events.next(PrintCompleted, job_id=job)
    assert pdf_pages(output(private_cupsd, done)) == 1
    wait_for(lambda: printer.health().code == "ok", "health ok after the refill")


def test_toner_low_is_degraded_and_printing_goes_on(capture, private_cupsd) -> None:
    printer, events = capture
    private_cupsd.set_toner_low(CAPTURE_QUEUE, True)
    job = printer.submit_pdf(cjk_pdf(1), "t")
    events.next(PrintCompleted, job_id=job)
    low = wait_for(lambda: printer.health().code == "toner-low" and printer.health(),
                   "toner-low")
    assert low.state is HealthState.DEGRADED
    job = printer.submit_pdf(cjk_pdf(1), "t")  # degraded still prints
    events.next(PrintCompleted, job_id=job)
    private_cupsd.set_toner_low(CAPTURE_QUEUE, False)
    job = printer.submit_pdf(cjk_pdf(1), "t")
    events.next(PrintCompleted, job_id=job)
    wait_for(lambda: printer.health().code == "ok", "health ok once the toner is replaced")


def test_a_stopped_queue_is_offline_and_a_job_past_its_deadline_is_canceled(
        private_cupsd: PrivateCupsd) -> None:
    printer, events = started(private_cupsd, CAPTURE_QUEUE, job_timeout_s=1.0,
                              call_timeout_s=1.0)
    try:
        events.health("ok")
        private_cupsd.run("cupsdisable", CAPTURE_QUEUE)
        events.health("offline")
        private_cupsd.run("cupsenable", CAPTURE_QUEUE)
        events.health("ok")
        # Held in the queue (job-hold-until), the job never starts: the driver cancels it.
        private_cupsd.run("lpadmin", "-p", CAPTURE_QUEUE, "-o",
                          "job-hold-until-default=indefinite")
        job = printer.submit_pdf(cjk_pdf(1), "held")
        failed = events.next(PrintFailed, job_id=job)
        assert failed.failure is DocPrintFailure.TIMEOUT  # type: ignore[attr-defined]
    finally:
        private_cupsd.run("lpadmin", "-p", CAPTURE_QUEUE, "-o",
                          "job-hold-until-default=no-hold")
        printer.stop()


def test_an_unknown_queue_and_a_silent_cups_are_told_apart(private_cupsd) -> None:
    printer, events = started(private_cupsd, "NO-SUCH-QUEUE")
    try:
        missing = events.health("printer-missing")
        assert missing.health.state is HealthState.MISSING
        with pytest.raises(DocumentPrinterUnavailable):
            printer.submit_pdf(cjk_pdf(1), "x")
    finally:
        printer.stop()
    nobody = CupsDocumentPrinter(CAPTURE_QUEUE, server=f"127.0.0.1:{free_port()}",
                                 poll_interval_s=0.2)
    events = Events(nobody)
    nobody.start()
    try:
        unavailable = events.health("cups-unavailable")
        assert unavailable.health.code == DocPrinterHealthCode.CUPS_UNAVAILABLE
    finally:
        nobody.stop()


@pytest.mark.parametrize("pdf,title", [
    (b"not a pdf", "t"), (b"%PDF-1.4" + b"x" * (20 * 1024 * 1024), "t"),
    (b"%PDF-1.4\n", ""), (b"%PDF-1.4\n", "a\x1bb"), (b"%PDF-1.4\n", "x" * 65),
])
def test_what_is_no_pdf_or_too_big_is_refused_before_cups(capture, pdf, title) -> None:
    printer, _ = capture
    with pytest.raises(ValueError):
        printer.submit_pdf(pdf, title)


def test_nothing_is_published_after_stop(private_cupsd: PrivateCupsd) -> None:
    printer, events = started(private_cupsd, CAPTURE_QUEUE)
    events.health("ok")
    private_cupsd.set_paper_out(CAPTURE_QUEUE, True)
    try:
        printer.submit_pdf(cjk_pdf(1), "x")
        events.health("paper-out")
        printer.stop()  # while its job waits for paper
        seen = events.queue.qsize()
        folder = private_cupsd.capture_root / CAPTURE_QUEUE
        before = len(list(folder.glob("job-*.prn")))
        private_cupsd.set_paper_out(CAPTURE_QUEUE, False)
        # CUPS finishes the job by itself; the stopped driver says nothing about it.
        wait_for(lambda: len(list(folder.glob("job-*.prn"))) > before, "the job to print")
        printer.stop()  # idempotent
        with pytest.raises(DocumentPrinterUnavailable):
            printer.submit_pdf(cjk_pdf(1), "after stop")
        assert events.queue.qsize() == seen
    finally:
        private_cupsd.set_paper_out(CAPTURE_QUEUE, False)


def test_the_edges_certificate_prints_on_a4_with_a_qr_code_a_phone_can_read(
        private_cupsd: PrivateCupsd) -> None:
    import subprocess
    import tempfile
    from pathlib import Path

    import zxingcpp
    from PIL import Image

    from benchmarks.print import certificate

    which, _, pdf = certificate()
    assert which == "edge"
    printer, events = started(private_cupsd, PDF_QUEUE)
    try:
        events.health("ok")
        job = printer.submit_pdf(pdf, "参保证明")
        done = events.next(PrintCompleted, job_id=job)
    finally:
        printer.stop()
    path = output(private_cupsd, done)
    assert pdf_pages(path) == 1 and round(page_size_mm(path, 1)[0]) == 210
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "page"
        subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-singlefile", str(path),
                        str(root)], check=True, timeout=60, capture_output=True)
        codes = zxingcpp.read_barcodes(Image.open(root.with_suffix(".png")))
    assert [c.text for c in codes] == ["http://127.0.0.1:8200/verify/K7QM-3XPD-9WTR-2HFC"]


def _queued(cupsd: PrivateCupsd, queue_name: str) -> str:
    """CUPS's list of the queue's jobs not yet finished (`lpstat -o`): empty when none."""
    return cupsd.run("lpstat", "-o", queue_name, check=False).stdout.strip()


def _taken(printer: CupsDocumentPrinter, title: str) -> str | None:
    try:
        return printer.submit_pdf(cjk_pdf(1), title)
    except DocumentPrinterUnavailable:
        return None


def test_a_job_in_a_queue_that_was_disabled_is_canceled_and_fails_offline(
        private_cupsd: PrivateCupsd) -> None:
    # The driver's idle poll is slow: it has not seen the queue stop when the job comes, so
    # CUPS takes the job into the stopped queue; following it, the driver sees the queue
    # stopped and, past stall_timeout_s, cancels the job rather than leave it to print later.
    printer = CupsDocumentPrinter(CAPTURE_QUEUE, server=private_cupsd.server,
                                  poll_interval_s=60, stall_timeout_s=1.0)
    events = Events(printer)
    folder = private_cupsd.capture_root / CAPTURE_QUEUE
    printer.start()
    try:
        events.health("ok")
        private_cupsd.run("cupsdisable", CAPTURE_QUEUE)
        before = set(folder.glob("job-*.prn"))
        job = printer.submit_pdf(cjk_pdf(1), "disabled")
        failed = events.next(PrintFailed, job_id=job)
        assert failed.failure is DocPrintFailure.OFFLINE  # type: ignore[attr-defined]
        assert printer.health().code == DocPrinterHealthCode.OFFLINE
        assert _queued(private_cupsd, CAPTURE_QUEUE) == ""  # nothing left to print later
        assert set(folder.glob("job-*.prn")) == before
    finally:
        private_cupsd.run("cupsenable", CAPTURE_QUEUE)
        printer.stop()


def test_a_job_waiting_for_paper_too_long_is_canceled_and_fails_paper_out(
        private_cupsd: PrivateCupsd) -> None:
    printer, events = started(private_cupsd, CAPTURE_QUEUE, stall_timeout_s=1.0)
    folder = private_cupsd.capture_root / CAPTURE_QUEUE
    try:
        events.health("ok")
        before = set(folder.glob("job-*.prn"))
        private_cupsd.set_paper_out(CAPTURE_QUEUE, True)
        job = printer.submit_pdf(cjk_pdf(1), "no paper")
        failed = events.next(PrintFailed, job_id=job)
        assert failed.failure is DocPrintFailure.PAPER_OUT  # type: ignore[attr-defined]
        assert printer.health().code == DocPrinterHealthCode.PAPER_OUT
        assert _queued(private_cupsd, CAPTURE_QUEUE) == ""
        private_cupsd.set_paper_out(CAPTURE_QUEUE, False)
        # CUPS keeps the canceled job's media-empty reason on the idle queue until a job's
        # backend clears it: the driver takes the next job on an idle queue all the same.
        # (Refused only until its poll has seen the queue idle again after the cancel.)
        again = wait_for(lambda: _taken(printer, "refilled"), "the driver to take a job")
        done = events.next(PrintCompleted, job_id=again)
        wait_for(lambda: printer.health().code == "ok", "health ok once a job has printed")
        # Only the job printed after the refill came out: the canceled one never did.
        assert set(folder.glob("job-*.prn")) - before == {output(private_cupsd, done)}
    finally:
        private_cupsd.set_paper_out(CAPTURE_QUEUE, False)
        printer.stop()


def test_the_stall_timeout_is_checked() -> None:
    with pytest.raises(ValueError):
        CupsDocumentPrinter(CAPTURE_QUEUE, stall_timeout_s=0)
