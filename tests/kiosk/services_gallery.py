"""The gallery's walk through the citizen services (`python -m tests.kiosk.gallery OUT
--walk services`): the card loss report from the attract screen, the services menu, applying
(keypad, pre-check, confirmation, a queued receipt with its QR), the applications and one
history, a refused pre-check, a duplicate application, and reversing a loss report with the
card in hand."""

from __future__ import annotations

from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from tests.kiosk.fakes import (
    ScriptedEdge,
    sample_applications,
    sample_card,
    sample_precheck,
    sample_receipt,
)
from tests.kiosk.gallery import Journey

CITIZEN_ID = "11010519491231002X"


class ServicesWalk(Journey):
    def run(self) -> None:
        r, e = self.reader, self.edge
        e.card_loss_script[:] = [sample_receipt(kind="card-loss-report")]
        e.apply_script[:] = [sample_receipt("queued")]
        e.applications_script[:] = [sample_applications(queued=1)]
        self.shot("01-attract-walk-up", "attract")

        self.tap("attract.card-loss")
        self.wait("keypad")
        self.type(CITIZEN_ID)
        self.shot("02-keypad-citizen-id", "keypad")
        self.tap("keypad.next")
        self.type("135790")
        self.shot("03-keypad-pin", "keypad")
        self.tap("keypad.next")
        self.shot("04-confirm-card-loss", "confirm")
        e.gate.clear()
        self.tap("confirm.confirm")
        self.shot("05-submitting", "submitting")
        e.gate.set()
        self.shot("06-receipt-card-loss", "receipt")
        self.tap("receipt.done")
        self.wait("attract")

        r.insert(sample_card())
        self.shot("07-home-services", "home")
        self.tap("home.apply")
        self.shot("08-subsidies", "subsidies")
        self.tap("subsidies.item-0")
        self.wait("keypad")
        self.type("13800000000")
        self.shot("09-keypad-phone", "keypad")
        self.tap("keypad.next")
        self.type("1234")
        self.tap("keypad.next")
        self.shot("10-precheck-ok", "precheck")
        self.tap("precheck.next")
        self.shot("11-confirm-apply", "confirm")
        self.tap("confirm.confirm")
        self.shot("12-receipt-queued", "receipt")
        self.tap("receipt.done")
        self.wait("home")

        self.tap("home.applications")
        self.shot("13-applications", "applications")
        self.tap("applications.item-0")
        self.shot("14-application-history", "application")
        self.tap("application.back")
        self.wait("applications")
        self.tap("applications.back")
        self.wait("home")

        e.precheck_script[:] = [sample_precheck(ok=False)]
        self.tap("home.apply")
        self.wait("subsidies")
        self.tap("subsidies.item-2")  # no form: straight to the pre-check
        self.shot("15-precheck-refused", "precheck")
        self.tap("precheck.done")
        self.wait("home")

        e.precheck_script[:] = [sample_precheck(ok=False, checked=False)]
        e.apply_script[:] = [EdgeProblem(codes.DUPLICATE_APPLICATION, 409)]
        self.tap("home.apply")
        self.wait("subsidies")
        self.tap("subsidies.item-2")
        self.shot("16-precheck-unchecked", "precheck")
        self.tap("precheck.next")
        self.wait("confirm")
        self.tap("confirm.confirm")
        self.shot("17-message-duplicate", "message")
        r.remove()
        self.wait("attract")

        e.open_script[:] = [EdgeProblem(codes.CARD_NOT_VALID, 403,
                                        extra={"card_status": "reported-lost"})]
        r.insert(sample_card())
        self.shot("18-message-card-lost-offer", "message")
        self.tap("message.card-loss-reversal")
        self.wait("keypad")
        self.type("135790")
        self.tap("keypad.next")
        self.shot("19-confirm-reversal", "confirm")
        self.tap("confirm.confirm")
        self.shot("20-receipt-reversal", "receipt")
        self.tap("receipt.done")
        self.wait("ending")
        r.remove()
        self.wait("attract")


__all__ = ["ScriptedEdge", "ServicesWalk"]
