"""Printing the participation certificate: PIN (card sessions), issue once, A4 or receipt,
progress, paper out (held, marked reprint, or declined), and the QR code for the PDF."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.card.fake import FakeCardReader
from drivers.printer.interface import ReceiptDocument
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.journeys.certificate import Certificate, Phase, Printing
from kiosk.flow.journeys.pin import PinPad
from kiosk.flow.pin_kit import install_pin_port
from kiosk.flow.print_kit import Printed, PrintOutcome, install_printers
from tests.kiosk.device_fakes import (
    CODE,
    PDF,
    VERIFY_URL,
    CertificateEdge,
    FakePinPort,
    FakePrinters,
)
from tests.kiosk.fakes import ManualClock, ManualTasks, sample_card
from tests.kiosk.flow.identify.test_qr import scan
from tests.kiosk.flow.test_core import CONFIG


class PrintKiosk:
    def __init__(self, printers: FakePrinters, *, pin: FakePinPort | None = None,
                 by: str = "qr") -> None:
        self.printers = printers
        self.edge = CertificateEdge()
        self.tasks = ManualTasks()
        caps = {"printer"} | ({"card-pin"} if pin is not None else set())
        self.flow = KioskFlow(self.edge, self.tasks, ManualClock(), CONFIG,
                              capabilities=frozenset(caps))
        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)
        if by == "card":
            self.reader.insert(sample_card())
        else:
            self.flow.handle(scan())
        self.tasks.run_all()
        assert self.flow.view.screen is ScreenName.HOME

    @property
    def data(self) -> object:
        content = self.flow.view.content
        assert content is not None, self.flow.view
        return content.data

    def tap(self, action: Action) -> None:
        self.flow.handle(Tap(action))

    def start(self) -> None:
        self.flow.handle(Tap(Action.START_JOURNEY, "certificate"))


@pytest.fixture
def printers() -> Iterator[FakePrinters]:
    port = FakePrinters()
    install_printers(port)
    yield port
    install_printers(None)


@pytest.fixture
def card_pin() -> Iterator[FakePinPort]:
    port = FakePinPort(pin="135790")
    install_pin_port(port)
    yield port
    install_pin_port(None)


def test_a_qr_session_prints_the_receipt_version_with_progress(printers: FakePrinters) -> None:
    kiosk = PrintKiosk(printers)
    assert "certificate" in kiosk.flow.view.journeys
    kiosk.start()
    assert kiosk.flow.view.screen is ScreenName.PRINTING
    assert kiosk.data == Printing(Phase.ISSUING, a4=False)
    kiosk.tasks.run_next()  # issued at the edge
    ((session_id, kind, key),) = kiosk.edge.certificate_calls
    assert (session_id, kind) == ("ses_0001", "participation") and key
    assert kiosk.data == Printing(Phase.PRINTING, a4=False, pages=1)
    kiosk.tasks.run_all()
    ((what, document),) = printers.printed
    assert what == "receipt" and isinstance(document, ReceiptDocument)
    assert document.title == "参保证明" and document.qr == VERIFY_URL
    assert document.footer == f"验证码 {CODE}" and len(document.lines) == 3
    assert not kiosk.edge.pdf_calls  # no A4 printer: the PDF is not fetched
    data = kiosk.data
    assert kiosk.flow.view.screen is ScreenName.CERTIFICATE and isinstance(data, Certificate)
    assert data.state == "done" and data.certificate.phone_url == VERIFY_URL
    assert not data.may_reprint
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME


def test_a4_where_a_document_printer_is_configured(printers: FakePrinters) -> None:
    printers.a4 = True
    kiosk = PrintKiosk(printers)
    kiosk.start()
    kiosk.tasks.run_all()
    ((what, (pdf, title)),) = printers.printed
    assert what == "pdf" and pdf == PDF and title == f"参保证明 {CODE}"
    assert kiosk.edge.pdf_calls == [CODE]
    data = kiosk.data
    assert isinstance(data, Certificate) and data.a4 and data.state == "done"


def test_a_card_session_gives_the_card_pin_first(printers: FakePrinters,
                                                 card_pin: FakePinPort) -> None:
    kiosk = PrintKiosk(printers, pin=card_pin, by="card")
    kiosk.start()
    kiosk.tasks.run_all()  # tries left
    assert isinstance(kiosk.data, PinPad) and kiosk.data.purpose == "pin.verify"
    for char in "135790":
        kiosk.flow.handle(Tap(Action.KEY, value=char))
    kiosk.tap(Action.NEXT)
    assert not kiosk.edge.certificate_calls  # nothing issued before the card said yes
    kiosk.tasks.run_next()  # the card verifies
    assert card_pin.calls[-1] == ("verify", "135790")
    assert kiosk.flow.view.screen is ScreenName.PRINTING
    kiosk.tasks.run_all()
    assert len(kiosk.edge.certificate_calls) == 1 and len(printers.printed) == 1
    assert isinstance(kiosk.data, Certificate)


def test_a_wrong_pin_prints_nothing(printers: FakePrinters, card_pin: FakePinPort) -> None:
    kiosk = PrintKiosk(printers, pin=card_pin, by="card")
    kiosk.start()
    kiosk.tasks.run_all()
    for char in "000000":
        kiosk.flow.handle(Tap(Action.KEY, value=char))
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_all()
    pad = kiosk.data
    assert isinstance(pad, PinPad) and pad.error == "pin.error.wrong" and pad.tries_left == 2
    assert not kiosk.edge.certificate_calls and not printers.printed


def test_paper_out_mid_job_is_held_then_reprinted_marked(printers: FakePrinters) -> None:
    printers.outcomes = [
        PrintOutcome(Printed.PAPER_OUT, "job-1", held=True),
        PrintOutcome(Printed.PAPER_OUT, "job-1", held=True),  # staff have not refilled yet
        PrintOutcome(Printed.DONE, "job-2", reprint_of="job-1"),
    ]
    kiosk = PrintKiosk(printers)
    kiosk.start()
    kiosk.tasks.run_all()
    data = kiosk.data
    assert isinstance(data, Certificate) and data.state == "held" and data.may_reprint
    kiosk.tap(Action.REPRINT)
    assert kiosk.data == Printing(Phase.REPRINTING, a4=False, pages=1)
    kiosk.tasks.run_all()
    assert isinstance(kiosk.data, Certificate) and kiosk.data.state == "held"
    kiosk.tap(Action.REPRINT)
    kiosk.tasks.run_all()
    assert [what for what, _ in printers.printed] == ["receipt", "reprint", "reprint"]
    assert printers.printed[1][1] == "job-1"  # the held job, through the driver's reprint
    assert isinstance(kiosk.data, Certificate) and kiosk.data.state == "done"
    assert len(kiosk.edge.certificate_calls) == 1  # one certificate, whatever was printed


def test_declining_a_held_job_discards_it(printers: FakePrinters) -> None:
    printers.outcomes = [PrintOutcome(Printed.PAPER_OUT, "job-1", held=True)]
    kiosk = PrintKiosk(printers)
    kiosk.start()
    kiosk.tasks.run_all()
    kiosk.tap(Action.DONE)
    kiosk.tasks.run_all()
    assert printers.discarded == ["job-1"] and kiosk.flow.view.screen is ScreenName.HOME


def test_walking_away_from_a_held_job_discards_it(printers: FakePrinters) -> None:
    printers.outcomes = [PrintOutcome(Printed.PAPER_OUT, "job-1", held=True)]
    kiosk = PrintKiosk(printers)
    kiosk.start()
    kiosk.tasks.run_all()
    kiosk.tap(Action.END)  # (or the idle timeout)
    assert printers.discarded == ["job-1"] and kiosk.flow.view.screen is ScreenName.ATTRACT


def test_no_paper_before_the_job_prints_afresh_on_reprint(printers: FakePrinters) -> None:
    printers.outcomes = [PrintOutcome(Printed.PAPER_OUT), PrintOutcome(Printed.DONE, "job-2")]
    kiosk = PrintKiosk(printers)
    kiosk.start()
    kiosk.tasks.run_all()
    assert isinstance(kiosk.data, Certificate) and kiosk.data.state == "paper-out"
    kiosk.tap(Action.REPRINT)
    kiosk.tasks.run_all()
    assert [what for what, _ in printers.printed] == ["receipt", "receipt"]
    assert isinstance(kiosk.data, Certificate) and kiosk.data.state == "done"


def test_the_edge_refusing_is_a_notice_and_a_retry_keeps_the_key(printers: FakePrinters) -> None:
    kiosk = PrintKiosk(printers)
    kiosk.edge.certificate_script = [EdgeProblem(codes.CENTRAL_UNAVAILABLE, 503),
                                     kiosk.edge.certificate_script[0]]
    kiosk.start()
    kiosk.tasks.run_all()
    assert kiosk.flow.view.screen is ScreenName.MESSAGE  # retrying by itself
    kiosk.flow._scheduler.advance(5)  # type: ignore[attr-defined]
    kiosk.tasks.run_all()
    first, second = kiosk.edge.certificate_calls
    assert first[2] == second[2]  # the same Idempotency-Key: one certificate
    assert isinstance(kiosk.data, Certificate)


def test_not_offered_without_a_printer() -> None:
    kiosk_flow = KioskFlow(CertificateEdge(), ManualTasks(), ManualClock(), CONFIG)
    assert "certificate" not in kiosk_flow.view.journeys


def test_an_edge_without_an_office_key_is_said_at_once(printers: FakePrinters) -> None:
    kiosk = PrintKiosk(printers)
    kiosk.edge.certificate_script = [EdgeProblem("certificates-unavailable", 503)]
    kiosk.start()
    kiosk.tasks.run_all()
    notice = kiosk.flow.view.notice
    assert notice is not None and notice.key == "msg.certificates_unavailable"
    assert not notice.retrying and len(kiosk.edge.certificate_calls) == 1
    kiosk.tap(Action.BACK)
    assert kiosk.flow.view.screen is ScreenName.HOME and not printers.printed
