"""A staff member unlocks the card's PIN here: RELOAD PIN, authorised by the issuer.

Offered where the PIN screen says the PIN is locked (6983, kiosk.flow.journeys.pin), and on
the services menu of a card session (a staff member resetting a forgotten PIN):

    locked ─"a staff member unlocks it here"→ keypad: staff ID (1/4) ─NEXT→ pin: staff code,
      as dots (2/4) ─NEXT→ pin: the card holder's new PIN (3/4) ─NEXT→ again (4/4)
      ─NEXT→ [the card driver's RELOAD PIN on a worker: GET CHALLENGE, the MAC from the edge
              (which asks the issuer's key centre), RELOAD PIN]
      → "unlocked" | "staff refused" | "too many refusals" | "cannot be authorised now"
        | the card was pulled | the card did not answer ─DONE→ back

RELOAD PIN rather than PIN UNBLOCK: the card holder may have forgotten the PIN, and both reset
the tries counter (simulators/card/applet.py). Nothing is retried or queued: the MAC is good
for the card's current challenge only, so central down is said at once. The staff code and the
PINs live in the `FieldEntry`s only, go into the one call, and are wiped when it answers and
when the steps end.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.edge.pin_authorisations import PinAuthorisationPort, Refusal, pin_authorisation_port
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, Capabilities, Journey, JourneyContext, Shown, Step
from kiosk.flow.journeys.pin import PinState, pad, pin_entry, weak
from kiosk.flow.journeys.steps import FieldEntry, KeypadKind, Typed
from kiosk.flow.pin_kit import (
    CAPABILITY,
    PIN_LENGTH,
    PinOutcome,
    PinResultLike,
    installed_pin_port,
    outcome_of,
)
from kiosk.flow.screens import Action, ScreenName

STEPS = 4
_PURPOSES = ("", "pin_unlock.staff_code", "pin_unlock.new", "pin_unlock.repeat")
_REFUSED_STATES: dict[str, PinState] = {
    Refusal.STAFF_REFUSED: PinState.STAFF_REFUSED,
    Refusal.TOO_MANY: PinState.STAFF_LIMITED,
    Refusal.UNAVAILABLE: PinState.CENTRAL_DOWN,
}


class ReloadPort(Protocol):
    """kiosk.card_pin.CardPin's staff reload (a PinPort that can)."""

    def reload(self, new: str, staff_id: str, staff_code: str,
               authorisations: PinAuthorisationPort) -> PinResultLike: ...


def reload_port(port: object) -> ReloadPort | None:
    """`port` as a ReloadPort, where its reader can reload a PIN."""
    if port is None or not callable(getattr(port, "reload", None)):
        return None
    return port if getattr(port, "can_reload", True) else None  # type: ignore[return-value]


def state_after_reload(result: PinResultLike) -> PinState:
    """What the card's (or the authoriser's) answer says, in the PIN screen's states."""
    match outcome_of(result):
        case PinOutcome.OK:
            return PinState.UNLOCKED
        case PinOutcome.REFUSED:
            reason = getattr(result, "reason", None)
            return _REFUSED_STATES.get(str(reason), PinState.UNAVAILABLE)
        case PinOutcome.REMOVED:
            return PinState.REMOVED
        case _:
            return PinState.UNAVAILABLE


def staff_id_entry() -> FieldEntry:
    # Digits, as the field login's staff ID (kiosk.flow.journeys.field_login).
    return FieldEntry("staff_id", "pin_unlock.staff_id", KeypadKind.DIGITS, 3, 12)


def staff_code_entry() -> FieldEntry:
    return FieldEntry("staff_code", "field.staff_code", KeypadKind.PIN, PIN_LENGTH, PIN_LENGTH)


class PinUnlockSteps:
    """Staff ID, staff code, the new PIN twice, then one RELOAD PIN on the card."""

    def __init__(self, port: ReloadPort) -> None:
        self._port = port
        self._entries = [staff_id_entry(), staff_code_entry(), pin_entry("field.new_pin"),
                         pin_entry("field.new_pin")]
        self._at = 0
        self._state = PinState.ENTRY
        self._asked: Call | None = None
        self.unlocked = False

    def __repr__(self) -> str:
        return f"PinUnlockSteps(at={self._at}, state={self._state})"

    def begin(self) -> Step:
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._state is not PinState.ENTRY:  # checking, or an outcome shown
            ended = self._state is not PinState.CHECKING
            return LEAVE if ended and tap.action in (Action.BACK, Action.DONE) else None
        if tap.action is Action.BACK:
            self._entries[self._at].wipe()
            if self._at == 0:
                return LEAVE
            self._at -= 1
            return None
        entry = self._entries[self._at]
        if entry.on_tap(tap) is not Typed.DONE or not self._accepted(entry):
            return None
        if self._at < STEPS - 1:
            self._at += 1
            return None
        port = self._port
        staff_id, code, new = (self._entries[0].value, self._entries[1].value,
                               self._entries[2].value)
        self._state = PinState.CHECKING
        self._asked = Call(
            "pin-reload",
            lambda edge: port.reload(new, staff_id, code, pin_authorisation_port(edge)),
            busy=ScreenName.PIN,
        )
        return self._asked

    def _accepted(self, entry: FieldEntry) -> bool:
        """The new PIN is not weak; the repeat equals it (else the new PIN again)."""
        new = self._entries[2]
        error = None
        if self._at == 2 and weak(entry.value):
            error = "pin.error.weak"
        elif self._at == 3 and entry.value != new.value:
            error = "pin.error.repeat"
            self._at = 2
        if error is None:
            return True
        entry.wipe()
        new.wipe()
        new.error = error
        return False

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._asked or not hasattr(value, "outcome"):
            return None
        self._asked = None
        self._wipe_entries()
        self._state = state_after_reload(value)  # type: ignore[arg-type]
        self.unlocked = self._state is PinState.UNLOCKED
        return None

    def shown(self) -> Shown:
        entry = self._entries[self._at]
        if self._at == 0 and self._state is PinState.ENTRY:
            return Shown(ScreenName.KEYPAD, entry.keypad(1, STEPS))
        return Shown(ScreenName.PIN, pad(entry, _PURPOSES[self._at], self._state, None,
                                         self._at + 1, STEPS))

    def _wipe_entries(self) -> None:
        for entry in self._entries:
            entry.wipe()

    def wipe(self) -> None:
        self._wipe_entries()
        self._asked = None


def _can_reload(capabilities: Capabilities) -> bool:
    return CAPABILITY in capabilities and reload_port(installed_pin_port()) is not None


def _start(_ctx: JourneyContext) -> PinUnlockSteps:
    port = reload_port(installed_pin_port())
    assert port is not None, "the staff unlock is offered only with a reader that reloads"
    return PinUnlockSteps(port)


PIN_UNLOCK = Journey(
    key="pin-unlock",
    home_target="home.pin-unlock",
    screens=(ScreenName.KEYPAD, ScreenName.PIN),
    start=_start,
    has_fn=_can_reload,
    methods=("card",),
)
