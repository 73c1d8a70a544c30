"""Reverse a loss report (解挂) with the card in hand: offered on the "this card is reported
lost" notice, while the card is still in the slot and no session could be opened.

    notice ─START→ keypad (6-digit service PIN, as dots) ─NEXT→ confirm ─CONFIRM→
      [reversal call: the card's identity + PIN, Idempotency-Key] → receipt ─DONE→ take the card

Central checks the card (its chip's identification code) and the PIN; a wrong one comes back as
a refused receipt. The PIN is wiped once sent.
"""

from __future__ import annotations

from common.masking import mask_citizen_id
from kiosk.edge.models import Credential, Receipt
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, Entry, Journey, JourneyContext, Shown, Step
from kiosk.flow.journeys.steps import Confirmation, FieldEntry, Receipted, Row, Typed
from kiosk.flow.messages import Msg
from kiosk.flow.screens import Action, ScreenName


class ReversalSteps:
    def __init__(self, ctx: JourneyContext) -> None:
        assert ctx.token is not None, "a reversal needs the card in hand"
        self._card: Credential | None = ctx.token
        self._new_key = ctx.new_key
        self._pin = FieldEntry.pin()
        self._submit: Call | None = None
        self._receipt: Receipt | None = None

    def begin(self) -> Step:
        return None

    def on_answer(self, call: Call, value: object) -> Step:
        if isinstance(value, Receipt) and call is self._submit:
            self._receipt, self._submit = value, None
            self._pin.wipe()
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._receipt is not None:
            return LEAVE if tap.action in (Action.DONE, Action.BACK) else None
        if self._submit is not None:  # confirming
            if tap.action is Action.BACK:
                self._submit = None
            elif tap.action is Action.CONFIRM:
                return self._submit
            return None
        if tap.action is Action.BACK:
            return LEAVE
        if self._pin.on_tap(tap) is Typed.DONE and self._card is not None:
            card, pin, key = self._card, self._pin.value, self._new_key()
            self._submit = Call(
                "card-loss-reversal",
                lambda edge: edge.reverse_card_loss(card, pin, idempotency_key=key),
                key=key, busy=ScreenName.SUBMITTING,
            )
        return None

    def shown(self) -> Shown:
        if self._receipt is not None:
            return Shown(ScreenName.RECEIPT, Receipted(self._receipt))
        if self._submit is not None:
            # Which card is unblocked, masked (the card in the slot; nothing else shows it).
            citizen_id = self._card.fields.get("citizen_id", "") if self._card else ""
            rows = (Row("field.citizen_id", mask_citizen_id(citizen_id)),) if citizen_id else ()
            return Shown(ScreenName.CONFIRM,
                         Confirmation(rows, warning="card-loss-reversal.confirm.warning"))
        return Shown(ScreenName.KEYPAD, self._pin.keypad(1, 1))

    def wipe(self) -> None:
        self._pin.wipe()
        self._card = self._submit = self._receipt = None


CARD_LOSS_REVERSAL = Journey(
    key="card-loss-reversal",
    home_target="message.card-loss-reversal",
    screens=(ScreenName.KEYPAD, ScreenName.CONFIRM, ScreenName.RECEIPT),
    start=ReversalSteps,
    entry=Entry.REFUSAL,
    offer_on=(Msg.CARD_LOST,),
)
