"""The social-security card's PIN: checked by the card, typed on a large masked keypad.

`PinCheck` is the step other journeys put in front of what needs the card holder's PIN (the
certificate): it asks the card how many tries are left (using none), takes six digits shown as
dots, and has the card verify them. A wrong PIN says how many tries are left (63Cx); a locked
one (6983) says where to unlock it. `PIN_CHANGE` is the journey that changes it:

    home ─START→ [tries left] → pin (old, 1/3) ─NEXT→ pin (new, 2/3) ─NEXT→ pin (again, 3/3)
      ─NEXT→ [change on the card] → pin "changed" ─DONE→ home
                                   → wrong old PIN: back to 1/3, tries left shown
                                   → locked: explained (the counter, or staff at this kiosk)

The digits live in the `FieldEntry`s only, are sent once, and wiped after each answer and when
the journey ends. While the card checks, the pin screen shows "checking" (no second tap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, Capabilities, Journey, JourneyContext, Shown, Step
from kiosk.flow.journeys.steps import DOT, FieldEntry, KeypadKind, Typed
from kiosk.flow.pin_kit import (
    CAPABILITY,
    PIN_LENGTH,
    PinOutcome,
    PinPort,
    PinResultLike,
    installed_pin_port,
    outcome_of,
)
from kiosk.flow.screens import Action, ScreenName


class PinState(StrEnum):
    ENTRY = "entry"  # typing
    CHECKING = "checking"  # the card is checking it
    LOCKED = "locked"  # 6983: explained, with where to unlock it
    REMOVED = "removed"  # the card left before it answered: put it back
    UNAVAILABLE = "unavailable"  # the reader or the card did not answer
    CHANGED = "changed"  # the new PIN is on the card


@dataclass(frozen=True)
class PinPad:
    """The pin screen's content. `purpose` is its i18n prefix (`pin.verify`, `pin.old`...)."""

    purpose: str
    state: PinState = PinState.ENTRY
    shown: str = field(default="", repr=False)  # dots only
    length: int = 0
    max_length: int = PIN_LENGTH
    ready: bool = False
    tries_left: int | None = None
    error: str | None = None  # i18n key (`pin.error.wrong` takes {tries})
    step: int = 1
    steps: int = 1

    @property
    def keys(self) -> tuple[str, ...]:
        return ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")

    @property
    def accepts_keys(self) -> bool:
        return self.state is PinState.ENTRY


def pin_entry(label: str = "field.card_pin") -> FieldEntry:
    return FieldEntry("pin", label, KeypadKind.PIN, PIN_LENGTH, PIN_LENGTH)


def weak(pin: str) -> bool:
    """Six equal digits or a plain run (123456, 654321): refused as a new PIN."""
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def after_tries(result: PinResultLike, tries: int | None) -> tuple[PinState, int | None]:
    """Where the card's tries-left answer leaves the keypad, and the tries it knows of."""
    tries = result.tries_left if result.tries_left is not None else tries
    outcome = outcome_of(result)
    if outcome is PinOutcome.LOCKED or tries == 0:
        return PinState.LOCKED, 0
    if outcome in (PinOutcome.OK, PinOutcome.WRONG_PIN):
        return PinState.ENTRY, tries
    return state_after(result)[0], tries


def state_after(result: PinResultLike) -> tuple[PinState, str | None]:
    """Where a failed card answer leaves the keypad: its state and the error shown."""
    match outcome_of(result):
        case PinOutcome.WRONG_PIN:
            return PinState.ENTRY, "pin.error.wrong"
        case PinOutcome.LOCKED:
            return PinState.LOCKED, None
        case PinOutcome.REMOVED:
            return PinState.REMOVED, None
        case _:
            return PinState.UNAVAILABLE, None


class PinCheck:
    """Typing the card's PIN and having the card verify it; `passed` once it has."""

    def __init__(self, port: PinPort, purpose: str = "pin.verify", step: int = 1,
                 steps: int = 1) -> None:
        self._port = port
        self._purpose, self._step, self._steps = purpose, step, steps
        self._entry = pin_entry()
        self._state = PinState.ENTRY
        self._tries: int | None = None
        self._asked: Call | None = None
        self.passed = False

    def begin(self) -> Step:
        port = self._port
        self._asked = Call("pin-tries", lambda _edge: port.tries_left(), busy=ScreenName.LOADING)
        return self._asked

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._asked or not hasattr(value, "outcome"):
            return None
        self._asked = None
        result: PinResultLike = value  # type: ignore[assignment]
        if call.name == "pin-tries":
            self._state, self._tries = after_tries(result, self._tries)
            return None
        outcome = outcome_of(result)
        self._tries = result.tries_left if result.tries_left is not None else self._tries
        self._entry.wipe()
        if outcome is PinOutcome.OK:
            self._state, self.passed = PinState.ENTRY, True
            return None
        self._state, self._entry.error = state_after(result)
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._state is not PinState.ENTRY:
            return LEAVE if tap.action in (Action.BACK, Action.DONE) else None
        if tap.action is Action.BACK:
            return LEAVE
        if self._entry.on_tap(tap) is Typed.DONE:
            port, digits = self._port, self._entry.value
            self._state = PinState.CHECKING
            self._asked = Call("pin-verify", lambda _edge: port.verify(digits),
                               busy=ScreenName.PIN)
            return self._asked
        return None

    def shown(self) -> Shown:
        return Shown(ScreenName.PIN, pad(self._entry, self._purpose, self._state, self._tries,
                                         self._step, self._steps))

    def wipe(self) -> None:
        self._entry.wipe()
        self._asked = None


def pad(entry: FieldEntry, purpose: str, state: PinState, tries: int | None,
        step: int = 1, steps: int = 1) -> PinPad:
    value = entry.value
    return PinPad(purpose, state, DOT * len(value), len(value), entry.max_length,
                  ready=len(value) >= entry.min_length, tries_left=tries, error=entry.error,
                  step=step, steps=steps)


class PinChangeSteps:
    """Old PIN, new PIN, the new PIN again, then one CHANGE on the card."""

    def __init__(self, ctx: JourneyContext, port: PinPort | None = None) -> None:
        port = port or installed_pin_port()
        assert port is not None, "the PIN change is offered only with a card PIN port"
        self._port = port
        self._entries = [pin_entry(), pin_entry("field.new_pin"), pin_entry("field.new_pin")]
        self._at = 0
        self._state = PinState.ENTRY
        self._tries: int | None = None
        self._asked: Call | None = None

    def begin(self) -> Step:
        port = self._port
        self._asked = Call("pin-tries", lambda _edge: port.tries_left(), busy=ScreenName.LOADING)
        return self._asked

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._asked or not hasattr(value, "outcome"):
            return None
        self._asked = None
        result: PinResultLike = value  # type: ignore[assignment]
        if call.name == "pin-tries":
            self._state, self._tries = after_tries(result, self._tries)
            return None
        outcome = outcome_of(result)
        self._tries = result.tries_left if result.tries_left is not None else self._tries
        for entry in self._entries:
            entry.wipe()
        if outcome is PinOutcome.OK:
            self._state = PinState.CHANGED
            return None
        self._at = 0
        self._state, self._entries[0].error = state_after(result)
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._state is not PinState.ENTRY:
            return LEAVE if tap.action in (Action.BACK, Action.DONE) else None
        if tap.action is Action.BACK:
            if self._at == 0:
                return LEAVE
            self._entries[self._at].wipe()
            self._at -= 1
            return None
        entry = self._entries[self._at]
        if entry.on_tap(tap) is not Typed.DONE or not self._accepted(entry):
            return None
        if self._at < 2:
            self._at += 1
            return None
        port, old, new = self._port, self._entries[0].value, entry.value
        self._state = PinState.CHECKING
        self._asked = Call("pin-change", lambda _edge: port.change(old, new), busy=ScreenName.PIN)
        return self._asked

    def _accepted(self, entry: FieldEntry) -> bool:
        """A new PIN is not weak nor the old one; the repeat equals it (else both again)."""
        old, new = self._entries[0], self._entries[1]
        error = None
        if self._at == 1 and weak(entry.value):
            error = "pin.error.weak"
        elif self._at == 1 and entry.value == old.value:
            error = "pin.error.same"
        elif self._at == 2 and entry.value != new.value:
            error = "pin.error.repeat"
            self._at = 1
        if error is None:
            return True
        entry.wipe()
        new.wipe()
        new.error = error
        return False

    def shown(self) -> Shown:
        purposes = ("pin.old", "pin.new", "pin.repeat")
        entry = self._entries[self._at]
        return Shown(ScreenName.PIN, pad(entry, "pin.changed" if self._state is PinState.CHANGED
                                         else purposes[self._at], self._state, self._tries,
                                         self._at + 1, 3))

    def wipe(self) -> None:
        for entry in self._entries:
            entry.wipe()
        self._asked = None


def _has_pin(capabilities: Capabilities) -> bool:
    return CAPABILITY in capabilities


def _start(ctx: JourneyContext) -> PinChangeSteps:
    return PinChangeSteps(ctx)


PIN_CHANGE = Journey(
    key="pin-change",
    home_target="home.pin-change",
    screens=(ScreenName.PIN,),
    start=_start,
    has_fn=_has_pin,
    methods=("card",),
)
