"""Field mode: the staff member logs in on the terminal, offline (kiosk/field).

    attract ─START→ keypad (staff ID, digits) ─NEXT→ keypad (PIN, as dots)
      ─NEXT→ [check against the terminal's staff file, on a worker] → logged in: LEAVE
      wrong PIN: the PIN keypad again, "N tries left"; locked / expired / no staff file:
      the staff ID keypad with the reason

The PIN is wiped as soon as it has been checked. The staff session then spans every villager
certified until it expires, goes idle, or the staff member logs out (kiosk/field/session.py).
"""

from __future__ import annotations

from kiosk.field.credentials import LoginCheck
from kiosk.field.kit import FIELD_CAPABILITY, FieldKit, installed_field
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
)
from kiosk.flow.journeys.steps import FieldEntry, KeypadKind, Typed
from kiosk.flow.screens import Action, ScreenName

KEY = "field-login"


def staff_id_entry() -> FieldEntry:
    return FieldEntry("staff_id", "field.staff_id", KeypadKind.DIGITS, 3, 12)


def staff_pin_entry() -> FieldEntry:
    return FieldEntry("staff_pin", "field.staff_pin", KeypadKind.PIN, 6, 12)


class FieldLoginSteps:
    def __init__(self, _ctx: JourneyContext, kit: FieldKit | None) -> None:
        self._kit = kit
        self._fields = [staff_id_entry(), staff_pin_entry()]
        self._field = 0
        self._check: Call | None = None
        self.result: LoginCheck | None = None

    def __repr__(self) -> str:
        return f"FieldLoginSteps(field={self._field})"

    def begin(self) -> Step:
        return LEAVE if self._kit is None else None

    def on_tap(self, tap: Tap) -> Step:
        if tap.action is Action.BACK:
            if self._field == 0:
                return LEAVE
            self._fields[self._field].wipe()
            self._field -= 1
            return None
        if self._fields[self._field].on_tap(tap) is not Typed.DONE:
            return None
        if self._field == 0:
            self._field = 1
            return None
        return self._login()

    def _login(self) -> Step:
        kit = self._kit
        assert kit is not None
        staff_id, pin = (entry.value for entry in self._fields)
        self._fields[1].wipe()  # the PIN lives only in the Call now, dropped once answered
        self._check = Call("staff-login", lambda _edge: kit.sessions.login(staff_id, pin),
                           busy=ScreenName.LOADING)
        return self._check

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._check or not isinstance(value, LoginCheck):
            return None
        self._check, self.result = None, value
        if value.ok:
            return LEAVE
        if value.outcome == "wrong":
            self._fields[1].error = "field.login.wrong"
            return None
        self._fields[1].wipe()
        self._field = 0
        self._fields[0].error = f"field.login.{value.outcome}"
        return None

    def shown(self) -> Shown:
        entry = self._fields[self._field]
        return Shown(ScreenName.KEYPAD, entry.keypad(self._field + 1, len(self._fields)))

    def wipe(self) -> None:
        for entry in self._fields:
            entry.wipe()
        self._check = None


def _offered(capabilities: Capabilities) -> bool:
    return FIELD_CAPABILITY in capabilities


FIELD_LOGIN = Journey(
    key=KEY,
    home_target="attract.field-login",
    screens=(ScreenName.KEYPAD,),
    start=lambda ctx: FieldLoginSteps(ctx, installed_field()),
    entry=Entry.ATTRACT,
    has_fn=_offered,
)
