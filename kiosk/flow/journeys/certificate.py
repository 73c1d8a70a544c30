"""Print my participation certificate (打印参保证明) or my personal rights record (打印个人权益
记录), issue 8: two entries on the services menu, one step machine.

    home ─START→ [card session: the card's PIN, kiosk.flow.journeys.pin.PinCheck]
      → [issue at the edge, Idempotency-Key] → printing ("正在开具")
      → [print: the A4 PDF on the document printer, else the receipt form on the receipt
         printer; the call waits for the job's end] → printing ("正在打印")
      → certificate: done (take it; verification code; QR code for the PDF on a phone)
                   | paper out (held: part may be in the tray; REPRINT marks it 【重印】,
                     DONE discards it) | printer trouble (REPRINT tries again)
                   | A4 trouble with a receipt printer here: CHOOSE "receipt" prints the
                     receipt version instead, DONE leaves (come back later)

The certificate is issued once per journey (one key: a retry or a reprint never issues a second
one); the PDF is fetched and printed on the worker and never kept. The receipt form and the
PDF hold the citizen's name: they live in this step machine only and are wiped at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.edge.certificates import CertificateKind, CertificateView, certificate_port
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, Capabilities, Journey, JourneyContext, Shown, Step
from kiosk.flow.journeys.pin import PinCheck
from kiosk.flow.pin_kit import installed_pin_port
from kiosk.flow.print_kit import (
    CAPABILITY,
    PrintOutcome,
    PrintPort,
    has_receipt_printer,
    installed_printers,
)
from kiosk.flow.screens import Action, ScreenName

log = logging.getLogger(__name__)

TITLES = {CertificateKind.PARTICIPATION: "参保证明", CertificateKind.RIGHTS_RECORD: "个人权益记录"}
RECEIPT_VERSION = "receipt"  # CHOOSE's value: print the receipt version instead of A4


class Phase(StrEnum):
    ISSUING = "issuing"  # the edge is making it
    PRINTING = "printing"
    REPRINTING = "reprinting"


@dataclass(frozen=True)
class Printing:
    """The printing screen's content: which step of the way, and on which printer."""

    phase: Phase
    a4: bool
    pages: int | None = None
    kind: CertificateKind = CertificateKind.PARTICIPATION


@dataclass(frozen=True)
class Certificate:
    """The certificate screen's content: the certificate and how printing it went."""

    certificate: CertificateView = field(repr=False)
    printed: PrintOutcome
    a4: bool
    # The A4 printer could not print it and a receipt printer is here: the receipt version
    # (the same content, the same code) is offered, as is leaving to come back later.
    receipt_instead: bool = False

    @property
    def state(self) -> str:
        """`done`, `held` (paper out mid-job), or the trouble (`paper-out`, `offline`...)."""
        if self.printed.ok:
            return "done"
        return "held" if self.printed.held else str(self.printed.state)

    @property
    def may_reprint(self) -> bool:
        return not self.printed.ok


class CertificateSteps:
    def __init__(self, ctx: JourneyContext, kind: CertificateKind = CertificateKind.PARTICIPATION,
                 printers: PrintPort | None = None) -> None:
        assert ctx.session_id is not None, "a certificate is for the citizen in session"
        printers = printers or installed_printers()
        assert printers is not None, "the journey is offered only with a printer"
        self._session_id = ctx.session_id
        self._kind = kind
        self._printers = printers
        self._key = ctx.new_key()  # one certificate per journey, whatever is retried
        pins = installed_pin_port() if ctx.method == "card" else None
        self._pin = PinCheck(pins) if pins is not None else None
        self._phase = Phase.ISSUING
        self._certificate: CertificateView | None = None
        self._printed: PrintOutcome | None = None
        self._asked: Call | None = None
        # Where it prints: decided when printing starts (the A4 printer's health may change
        # meanwhile), and turned to the receipt printer when the citizen asks for that.
        self._a4: bool | None = None

    # Steps ----------------------------------------------------------------------------------

    def begin(self) -> Step:
        return self._pin.begin() if self._pin is not None else self._issue()

    def _issue(self) -> Step:
        session_id, kind, key = self._session_id, self._kind, self._key
        self._phase = Phase.ISSUING
        self._asked = Call(
            "certificate",
            lambda edge: certificate_port(edge).issue_certificate(session_id, kind,
                                                                  idempotency_key=key),
            key=key, busy=ScreenName.PRINTING)
        return self._asked

    def _print(self) -> Step:
        certificate, printers = self._certificate, self._printers
        assert certificate is not None
        title = f"{TITLES[self._kind]} {certificate.code}"
        self._phase = Phase.PRINTING
        if self._a4 is None:
            self._a4 = printers.a4
        if self._a4:
            def run(edge: object) -> PrintOutcome:
                # The PDF goes from the edge to the printer on the worker, never kept.
                return printers.print_pdf(certificate_port(edge).certificate_pdf(certificate),
                                          title[:64])
        else:
            document = certificate.receipt.document()

            def run(edge: object) -> PrintOutcome:
                return printers.print_receipt(document)
        self._asked = Call("print", run, busy=ScreenName.PRINTING)
        return self._asked

    def _reprint(self) -> Step:
        printed, printers = self._printed, self._printers
        assert printed is not None
        if not printed.held or printed.job_id is None:
            return self._print()  # nothing of it was printed: print it (again) afresh
        job_id = printed.job_id
        self._phase = Phase.REPRINTING
        self._asked = Call("reprint", lambda _edge: printers.reprint(job_id),
                           busy=ScreenName.PRINTING)
        return self._asked

    def _done(self) -> Step:
        """Leave; a job held for reprint is discarded first (the citizen declined it)."""
        printed, printers = self._printed, self._printers
        if printed is not None and printed.held and printed.job_id is not None:
            job_id = printed.job_id
            self._printed = None
            self._asked = Call("discard", lambda _edge: printers.discard(job_id),
                               busy=ScreenName.PRINTING)
            return self._asked
        return LEAVE

    # The core's calls -----------------------------------------------------------------------

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._asked:
            return self._on_pin_answer(call, value)
        self._asked = None
        if call.name == "certificate" and isinstance(value, CertificateView):
            self._certificate = value
            return self._print()
        if call.name in ("print", "reprint") and isinstance(value, PrintOutcome):
            log.info("certificate: %s %s%s", call.name, value.state,
                     " (held for reprint)" if value.held else "")
            self._printed = value
            return None
        if call.name == "discard":
            return LEAVE
        return None

    def _on_pin_answer(self, call: Call, value: object) -> Step:
        pin = self._pin
        if pin is None:
            return None
        step = pin.on_answer(call, value)
        if pin.passed:  # the card has taken the PIN: issue the certificate now
            pin.wipe()
            self._pin = None
            return self._issue()
        return step

    def on_tap(self, tap: Tap) -> Step:
        pin = self._pin
        if self._certificate is None and pin is not None:
            return pin.on_tap(tap)
        if self._printed is None:
            return LEAVE if tap.action is Action.BACK else None
        if tap.action is Action.REPRINT and not self._printed.ok:
            return self._reprint()
        if (tap.action is Action.CHOOSE and tap.value == RECEIPT_VERSION
                and self._receipt_instead()):
            self._a4, self._printed = False, None
            return self._print()
        if tap.action in (Action.DONE, Action.BACK):
            return self._done()
        return None

    def shown(self) -> Shown:
        if self._certificate is None and self._pin is not None and self._asked is None:
            return self._pin.shown()
        if self._printed is not None and self._certificate is not None and self._asked is None:
            return Shown(ScreenName.CERTIFICATE,
                         Certificate(self._certificate, self._printed, self._on_a4(),
                                     self._receipt_instead()))
        pages = self._certificate.pages if self._certificate is not None else None
        return Shown(ScreenName.PRINTING, Printing(self._phase, self._on_a4(), pages, self._kind))

    def _on_a4(self) -> bool:
        return self._printers.a4 if self._a4 is None else self._a4

    def _receipt_instead(self) -> bool:
        printed = self._printed
        return (printed is not None and not printed.ok and self._a4 is True
                and has_receipt_printer(self._printers))

    def wipe(self) -> None:
        printed = self._printed
        if printed is not None and printed.held and printed.job_id is not None:
            # The citizen left with a job held: nobody will decide on it, and a held job
            # blocks the printer for the next citizen. The driver's discard is in memory.
            try:
                self._printers.discard(printed.job_id)
            except Exception:
                log.exception("certificate: discarding the held job failed")
        if self._pin is not None:
            self._pin.wipe()
        self._certificate = self._printed = self._asked = None
        self._session_id = ""


def _has_printer(capabilities: Capabilities) -> bool:
    return CAPABILITY in capabilities


def _start(ctx: JourneyContext) -> CertificateSteps:
    return CertificateSteps(ctx)


def _start_rights_record(ctx: JourneyContext) -> CertificateSteps:
    return CertificateSteps(ctx, CertificateKind.RIGHTS_RECORD)


SCREENS = (ScreenName.PRINTING, ScreenName.CERTIFICATE, ScreenName.PIN)

CERTIFICATE = Journey(
    key="certificate",
    home_target="home.certificate",
    screens=SCREENS,
    start=_start,
    has_fn=_has_printer,
)

# The same steps for the other document: its own button on the services menu, since a
# citizen comes for one of them by name (a bank asks for the 参保证明, a lawyer for the record).
RIGHTS_RECORD = Journey(
    key="rights_record",
    home_target="home.rights_record",
    screens=SCREENS,
    start=_start_rights_record,
    has_fn=_has_printer,
)
