"""Which certificate, and where it prints: the services menu offers the participation
certificate and the personal rights record (one step machine, the kind it asks the edge for),
and an A4 printer that cannot print (paper out, queue stopped, offline) leads to the receipt
version or to coming back later; paper out on the receipt printer holds the job for a reprint
marked 【重印】, never printing it twice unknowingly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from drivers.printer.interface import ReceiptDocument
from kiosk.edge.certificates import CertificateKind
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.journeys.certificate import (
    CERTIFICATE,
    RECEIPT_VERSION,
    RIGHTS_RECORD,
    Certificate,
    Phase,
    Printing,
)
from kiosk.flow.print_kit import Printed, PrintOutcome, install_printers
from tests.kiosk.device_fakes import CODE, PDF, CertificateEdge, FakePrinters, sample_certificate
from tests.kiosk.fakes import ManualClock, ManualTasks
from tests.kiosk.flow.identify.test_qr import scan
from tests.kiosk.flow.test_core import CONFIG

RIGHTS = sample_certificate(kind="rights-record", receipt={
    "title": "个人权益记录",
    "lines": [{"text": "姓名：张三"}, {"text": "缴费记录", "bold": True},
              {"text": "企业职工基本养老保险 2025年 已缴12期 个人960.00 单位1920.00"}],
    "qr": f"http://127.0.0.1:8200/verify/{CODE}", "footer": f"验证码 {CODE}"})


@dataclass
class BothPrinters(FakePrinters):
    """An A4 printer and a receipt printer: the receipt version is there to fall back on."""

    a4: bool = True
    receipt: bool = True


class Kiosk:
    def __init__(self, printers: FakePrinters) -> None:
        self.printers = printers
        self.edge = CertificateEdge()
        self.tasks = ManualTasks()
        self.flow = KioskFlow(self.edge, self.tasks, ManualClock(), CONFIG,
                              capabilities=frozenset({"printer"}))
        self.flow.handle(scan())  # a QR session: no card PIN step
        self.tasks.run_all()
        assert self.flow.view.screen is ScreenName.HOME

    @property
    def data(self) -> object:
        content = self.flow.view.content
        assert content is not None, self.flow.view
        return content.data

    def certificate(self) -> Certificate:
        data = self.data
        assert self.flow.view.screen is ScreenName.CERTIFICATE and isinstance(data, Certificate)
        return data

    def tap(self, action: Action, value: str | None = None) -> None:
        self.flow.handle(Tap(action, value=value))

    def start(self, journey: str = "certificate") -> None:
        self.flow.handle(Tap(Action.START_JOURNEY, journey))


def _installed(port: FakePrinters) -> Iterator[FakePrinters]:
    install_printers(port)
    yield port
    install_printers(None)


@pytest.fixture
def receipt_only() -> Iterator[FakePrinters]:
    yield from _installed(FakePrinters())


@pytest.fixture
def both() -> Iterator[FakePrinters]:
    yield from _installed(BothPrinters())


# Which certificate ------------------------------------------------------------------------

def test_the_menu_offers_both_documents_once_each_with_a_printer(receipt_only) -> None:
    kiosk = Kiosk(receipt_only)
    offered = kiosk.flow.view.journeys
    assert offered.count("certificate") == 1 and offered.count("rights_record") == 1
    assert [j.key for j in JOURNEYS].count("rights_record") == 1
    assert RIGHTS_RECORD.screens == CERTIFICATE.screens
    assert RIGHTS_RECORD.home_target != CERTIFICATE.home_target
    bare = KioskFlow(CertificateEdge(), ManualTasks(), ManualClock(), CONFIG)
    assert "rights_record" not in bare.view.journeys  # no printer, neither is offered


def test_the_rights_record_is_issued_as_such_and_prints_its_receipt_version(
        receipt_only) -> None:
    kiosk = Kiosk(receipt_only)
    kiosk.edge.certificate_script = [RIGHTS]
    kiosk.start("rights_record")
    assert kiosk.data == Printing(Phase.ISSUING, a4=False, kind=CertificateKind.RIGHTS_RECORD)
    kiosk.tasks.run_all()
    ((_session, kind, _key),) = kiosk.edge.certificate_calls
    assert kind == "rights-record"
    ((what, document),) = receipt_only.printed
    assert what == "receipt" and isinstance(document, ReceiptDocument)
    assert document.title == "个人权益记录" and document.footer == f"验证码 {CODE}"
    shown = kiosk.certificate()
    assert shown.state == "done" and shown.certificate.kind is CertificateKind.RIGHTS_RECORD
    assert shown.certificate.phone_url.endswith(f"/verify/{CODE}")  # the QR code on screen


def test_the_rights_record_prints_on_a4_under_its_own_title(both) -> None:
    kiosk = Kiosk(both)
    kiosk.edge.certificate_script = [RIGHTS]
    kiosk.start("rights_record")
    kiosk.tasks.run_all()
    ((what, (pdf, title)),) = both.printed
    assert what == "pdf" and pdf == PDF and title == f"个人权益记录 {CODE}"
    assert kiosk.certificate().a4 and not kiosk.certificate().receipt_instead


# A4 trouble: the receipt version, or come back later ---------------------------------------

@pytest.mark.parametrize("trouble", [Printed.OFFLINE, Printed.PAPER_OUT, Printed.FAILED])
def test_a4_trouble_offers_the_receipt_version_which_prints_the_same_certificate(
        both, trouble) -> None:
    both.outcomes = [PrintOutcome(trouble)]
    kiosk = Kiosk(both)
    kiosk.start()
    kiosk.tasks.run_all()
    shown = kiosk.certificate()
    assert shown.state == str(trouble) and shown.a4 and shown.receipt_instead
    kiosk.tap(Action.CHOOSE, RECEIPT_VERSION)
    assert kiosk.data == Printing(Phase.PRINTING, a4=False, pages=1)
    kiosk.tasks.run_all()
    assert [what for what, _ in both.printed] == ["pdf", "receipt"]
    shown = kiosk.certificate()
    assert shown.state == "done" and not shown.a4 and not shown.receipt_instead
    assert len(kiosk.edge.certificate_calls) == 1  # the same certificate, not a second one


def test_a4_trouble_and_coming_back_later_prints_nothing_more(both) -> None:
    both.outcomes = [PrintOutcome(Printed.OFFLINE)]
    kiosk = Kiosk(both)
    kiosk.start()
    kiosk.tasks.run_all()
    assert kiosk.certificate().receipt_instead
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME
    assert [what for what, _ in both.printed] == ["pdf"] and not both.discarded


def test_a4_trouble_can_be_tried_again_on_a4(both) -> None:
    both.outcomes = [PrintOutcome(Printed.PAPER_OUT)]
    kiosk = Kiosk(both)
    kiosk.start()
    kiosk.tasks.run_all()
    kiosk.tap(Action.REPRINT)  # staff loaded paper
    kiosk.tasks.run_all()
    assert [what for what, _ in both.printed] == ["pdf", "pdf"]
    assert kiosk.certificate().state == "done" and kiosk.certificate().a4


def test_no_receipt_version_without_a_receipt_printer(receipt_only) -> None:
    receipt_only.a4 = True  # an A4 printer only
    receipt_only.outcomes = [PrintOutcome(Printed.OFFLINE)]
    kiosk = Kiosk(receipt_only)
    kiosk.start()
    kiosk.tasks.run_all()
    assert not kiosk.certificate().receipt_instead
    kiosk.tap(Action.CHOOSE, RECEIPT_VERSION)  # a stray tap does nothing
    kiosk.tasks.run_all()
    assert [what for what, _ in receipt_only.printed] == ["pdf"]


def test_receipt_trouble_offers_no_receipt_version(both) -> None:
    both.a4 = False  # the A4 printer is gone altogether: the receipt version at once
    both.outcomes = [PrintOutcome(Printed.OFFLINE)]
    kiosk = Kiosk(both)
    kiosk.start()
    kiosk.tasks.run_all()
    shown = kiosk.certificate()
    assert shown.state == "offline" and not shown.a4 and not shown.receipt_instead


# Paper out on the receipt printer ----------------------------------------------------------

def test_paper_out_mid_receipt_is_held_then_the_marked_reprint_is_the_only_second_copy(
        receipt_only) -> None:
    receipt_only.outcomes = [PrintOutcome(Printed.PAPER_OUT, "job-1", held=True),
                             PrintOutcome(Printed.DONE, "job-2", reprint_of="job-1")]
    kiosk = Kiosk(receipt_only)
    kiosk.start("rights_record")
    kiosk.tasks.run_all()
    held = kiosk.certificate()
    assert held.state == "held" and held.may_reprint and not held.receipt_instead
    kiosk.tap(Action.REPRINT)
    assert kiosk.data == Printing(Phase.REPRINTING, a4=False, pages=1,
                                  kind=CertificateKind.RIGHTS_RECORD)
    kiosk.tasks.run_all()
    # The held job again through the driver's reprint (marked 【重印】), no fresh print.
    assert receipt_only.printed[1:] == [("reprint", "job-1")]
    assert kiosk.certificate().state == "done"
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME and not receipt_only.discarded


def test_paper_out_before_the_receipt_starts_prints_it_afresh(receipt_only) -> None:
    receipt_only.outcomes = [PrintOutcome(Printed.PAPER_OUT)]
    kiosk = Kiosk(receipt_only)
    kiosk.start()
    kiosk.tasks.run_all()
    assert kiosk.certificate().state == "paper-out"
    kiosk.tap(Action.REPRINT)
    kiosk.tasks.run_all()
    assert [what for what, _ in receipt_only.printed] == ["receipt", "receipt"]
    assert kiosk.certificate().state == "done"


def test_the_receipt_version_cut_short_by_paper_out_is_held_like_any_receipt(both) -> None:
    both.outcomes = [PrintOutcome(Printed.OFFLINE),
                     PrintOutcome(Printed.PAPER_OUT, "job-2", held=True)]
    kiosk = Kiosk(both)
    kiosk.start()
    kiosk.tasks.run_all()
    kiosk.tap(Action.CHOOSE, RECEIPT_VERSION)
    kiosk.tasks.run_all()
    shown = kiosk.certificate()
    assert shown.state == "held" and not shown.receipt_instead
    kiosk.tap(Action.END)  # the citizen walks away: the held job is discarded
    assert both.discarded == ["job-2"]
