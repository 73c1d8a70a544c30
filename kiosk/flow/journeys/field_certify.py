"""Field mode, in the village: a villager whose card is at home is identified by the ID number
the staff member types, then certified exactly as at the hall (the certify journey's steps).

    attract ─START→ (staff logged in) keypad (ID number) ─NEXT→ [open a session from the trip
      roster: POST /api/v1/field/sessions, method id-number] → the certify journey's steps
      (status from the roster, guided capture, evidence + record signed with the device key
      and the staff ID) → receipt ─DONE→ LEAVE (the next villager)

A villager with a card identifies by the card as at the hall: the field edge opens that session
from the roster too, and the certify journey (with the field kit) runs unchanged.
"""

from __future__ import annotations

import logging

from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import SessionOpened
from kiosk.field.edge_calls import field_port
from kiosk.field.kit import FIELD_CAPABILITY, FieldKit, installed_field, staff_kit
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import (
    LEAVE,
    Call,
    Capabilities,
    Entry,
    Journey,
    JourneyContext,
    Shown,
    Step,
    Steps,
)
from kiosk.flow.journeys.certify import CertifySteps
from kiosk.flow.journeys.steps import FieldEntry, Typed
from kiosk.flow.screens import Action, ScreenName

KEY = "field-certify"
NOT_ON_ROSTER = "field.certify.not-on-roster"

log = logging.getLogger(__name__)


class FieldCertifySteps:
    def __init__(self, ctx: JourneyContext, kit: FieldKit | None) -> None:
        self._ctx = ctx
        self._kit = kit
        self._id = FieldEntry.citizen_id()
        self._open: Call | None = None
        self._inner: Steps | None = None  # the certify journey's steps, once identified

    def __repr__(self) -> str:
        return f"FieldCertifySteps(identified={self._inner is not None})"

    def _staff_ok(self) -> bool:
        return self._kit is not None and self._kit.sessions.touch() is not None

    def begin(self) -> Step:
        return None if self._staff_ok() else LEAVE

    def on_tap(self, tap: Tap) -> Step:
        if not self._staff_ok():
            return LEAVE
        if self._inner is not None:
            receipt = self._inner.shown().screen is ScreenName.RECEIPT
            step = self._inner.on_tap(tap)
            if step is LEAVE and receipt and self._kit is not None:
                self._kit.sessions.certified_one()  # one more villager in this staff session
            return step
        if tap.action is Action.BACK:
            return LEAVE
        if self._id.on_tap(tap) is Typed.DONE:
            citizen_id, key = self._id.value, self._ctx.new_key()

            def open_session(edge: object) -> object:
                try:
                    return field_port(edge).open_by_id_number(citizen_id, idempotency_key=key)
                except EdgeProblem as problem:
                    if problem.status == 404:  # not on this trip's roster
                        return problem
                    raise

            self._open = Call("field-session", open_session, key=key, busy=ScreenName.LOADING)
            return self._open
        return None

    def on_answer(self, call: Call, value: object) -> Step:
        if self._inner is not None:
            return self._inner.on_answer(call, value)
        if call is not self._open:
            return None
        self._open = None
        if isinstance(value, EdgeProblem):
            self._id.error = NOT_ON_ROSTER
            return None
        if not isinstance(value, SessionOpened) or self._kit is None:
            return None
        self._id.wipe()
        certify = self._kit.certify()
        kit = staff_kit(certify, self._kit.sessions) if certify is not None else None
        inner_ctx = JourneyContext(session_id=value.session_id, new_key=self._ctx.new_key,
                                   page_size=self._ctx.page_size)
        self._inner = CertifySteps(inner_ctx, kit)
        return self._inner.begin()

    def shown(self) -> Shown:
        if self._inner is not None:
            return self._inner.shown()
        return Shown(ScreenName.KEYPAD, self._id.keypad(1, 1))

    def wipe(self) -> None:
        self._id.wipe()
        self._open = None
        if self._inner is not None:
            self._inner.wipe()
            self._inner = None


def _offered(capabilities: Capabilities) -> bool:
    return FIELD_CAPABILITY in capabilities and {"camera", "face"} <= capabilities


FIELD_CERTIFY = Journey(
    key=KEY,
    home_target="attract.field-certify",
    screens=(ScreenName.KEYPAD, ScreenName.CERTIFY, ScreenName.CAPTURE, ScreenName.RECEIPT),
    start=lambda ctx: FieldCertifySteps(ctx, installed_field()),
    entry=Entry.ATTRACT,
    has_fn=_offered,
)
