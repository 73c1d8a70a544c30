"""Report a lost card, without the card (the 12333 practice): from the attract screen.

    attract ─START→ keypad (ID number, X key) ─NEXT→ keypad (6-digit service PIN, as dots)
      ─NEXT→ confirm ("your card will be blocked") ─CONFIRM→ [report call] → receipt

Central checks the PIN when the report reaches it: a wrong one comes back as a refused
receipt in plain words. The ID number and the PIN are wiped once sent; no session is opened.
On the ID number's keypad, a resident ID card laid on its reader types the number for the
citizen (`on_credential`: the core hands it identities read while a walk-up journey runs).
"""

from __future__ import annotations

from common.masking import mask_citizen_id
from kiosk.edge.models import Credential, Receipt
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, Entry, Journey, JourneyContext, Shown, Step
from kiosk.flow.journeys.steps import Confirmation, FieldEntry, Receipted, Row, Typed
from kiosk.flow.screens import Action, ScreenName


class CardLossSteps:
    def __init__(self, ctx: JourneyContext) -> None:
        self._new_key = ctx.new_key
        self._fields = [FieldEntry.citizen_id(), FieldEntry.pin()]
        self._field = 0
        self._confirming = False
        self._submit: Call | None = None
        self._receipt: Receipt | None = None

    def begin(self) -> Step:
        return None

    def on_answer(self, call: Call, value: object) -> Step:
        if isinstance(value, Receipt) and call is self._submit:
            self._receipt, self._submit, self._confirming = value, None, False
            for entry in self._fields:
                entry.wipe()
        return None

    def on_credential(self, credential: Credential) -> Step:
        """The resident ID card was read while the ID number is asked: take its number."""
        citizen_id = credential.fields.get("citizen_id", "")
        entry = self._fields[0]
        if (credential.method != "idcard" or self._field != 0 or self._confirming
                or self._receipt is not None):
            return None
        entry.value = citizen_id
        if entry.problem() is None:
            self._field = 1
        else:
            entry.wipe()
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._receipt is not None:
            return LEAVE if tap.action in (Action.DONE, Action.BACK) else None
        if self._confirming:
            if tap.action is Action.BACK:
                self._confirming, self._submit = False, None
            elif tap.action is Action.CONFIRM and self._submit is not None:
                return self._submit
            return None
        if tap.action is Action.BACK:
            if self._field == 0:
                return LEAVE
            self._field -= 1
            return None
        if self._fields[self._field].on_tap(tap) is Typed.DONE:
            if self._field + 1 < len(self._fields):
                self._field += 1
            else:
                self._confirm()
        return None

    def _confirm(self) -> None:
        citizen_id, pin = (entry.value for entry in self._fields)
        key = self._new_key()
        self._submit = Call(
            "card-loss",
            lambda edge: edge.report_card_loss(citizen_id, pin, idempotency_key=key),
            key=key, busy=ScreenName.SUBMITTING,
        )
        self._confirming = True

    def shown(self) -> Shown:
        if self._receipt is not None:
            return Shown(ScreenName.RECEIPT, Receipted(self._receipt))
        if self._confirming:
            citizen_id = self._fields[0].value
            return Shown(ScreenName.CONFIRM, Confirmation(
                (Row("field.citizen_id", mask_citizen_id(citizen_id)),),
                warning="card-loss.confirm.warning",
            ))
        entry = self._fields[self._field]
        return Shown(ScreenName.KEYPAD, entry.keypad(self._field + 1, len(self._fields)))

    def wipe(self) -> None:
        for entry in self._fields:
            entry.wipe()
        self._submit = self._receipt = None


CARD_LOSS = Journey(
    key="card-loss",
    home_target="attract.card-loss",
    screens=(ScreenName.KEYPAD, ScreenName.CONFIRM, ScreenName.RECEIPT),
    start=CardLossSteps,
    entry=Entry.ATTRACT,
)
