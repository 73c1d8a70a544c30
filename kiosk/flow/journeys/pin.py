"""The social-security card's PIN: checked by the card, typed on a large masked keypad.

`PinCheck` is the step other journeys put in front of what needs the card holder's PIN (the
certificate): it asks the card how many tries are left (using none), takes six digits shown as
dots, and has the card verify them. A wrong PIN says how many tries are left (63Cx); a locked
one (6983) says where to unlock it. `PIN_CHANGE` is the journey that changes it:

    home ─START→ [tries left] → pin (old, 1/3) ─NEXT→ pin (new, 2/3) ─NEXT→ pin (again, 3/3)
      ─NEXT→ [change on the card] → pin "changed" ─DONE→ home
                                   → wrong old PIN: back to 1/3, tries left shown
                                   → locked: explained (the counter, or staff at this kiosk:
                                     "a staff member unlocks it here", pin_unlock.py)

The digits live in the `FieldEntry`s only, are sent once, and wiped after each answer and when
the journey ends. While the card checks, the pin screen shows "checking" (no second tap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Protocol

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
    # A staff reload's outcomes (kiosk.flow.journeys.pin_unlock)
    UNLOCKED = "unlocked"  # the new PIN is on the card, three tries
    STAFF_REFUSED = "staff-refused"  # unknown staff ID or a wrong staff code
    STAFF_LIMITED = "staff-limited"  # too many refusals: wait
    CENTRAL_DOWN = "central-down"  # the issuer cannot be asked now


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
    # LOCKED: a staff member may unlock it here (a CHOOSE tap with STAFF_UNLOCK).
    staff_unlock: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")

    @property
    def accepts_keys(self) -> bool:
        return self.state is PinState.ENTRY


STAFF_UNLOCK = "staff-unlock"  # the CHOOSE tap's value on a locked PIN


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


class StaffUnlockOffer:
    """The locked state's offer: a staff member unlocks the PIN here (pin_unlock.py), with
    the step machine the host journey delegates to until it is done."""

    def __init__(self, port: PinPort) -> None:
        from kiosk.flow.journeys.pin_unlock import reload_port

        self._port = reload_port(port)
        self.steps: PinUnlockLike | None = None
        self._begun = False

    @property
    def offered(self) -> bool:
        return self._port is not None

    def handles(self, tap: Tap, locked: bool) -> bool:
        """Whether `tap` is the unlock's: it is running, or `tap` (on a locked PIN) starts it."""
        if self.steps is not None:
            return True
        if (not locked or self._port is None or tap.action is not Action.CHOOSE
                or tap.value != STAFF_UNLOCK):
            return False
        from kiosk.flow.journeys.pin_unlock import PinUnlockSteps

        self.steps = PinUnlockSteps(self._port)
        self._begun = False
        return True

    def on_tap(self, tap: Tap) -> Step:
        """The unlock's step for `tap` (its first one when `tap` started it); LEAVE once it
        has ended (then `finish`)."""
        assert self.steps is not None
        if not self._begun:
            self._begun = True
            return self.steps.begin()
        return self.steps.on_tap(tap)

    def finish(self) -> bool:
        """The unlock has ended: whether the card has a new PIN now."""
        steps, self.steps = self.steps, None
        if steps is None:
            return False
        steps.wipe()
        return steps.unlocked

    def wipe(self) -> None:
        if self.steps is not None:
            self.steps.wipe()
        self.steps = None


class PinUnlockLike(Protocol):
    """What the host sees of pin_unlock.PinUnlockSteps (named here: no import circle)."""

    @property
    def unlocked(self) -> bool: ...

    def begin(self) -> Step: ...

    def on_tap(self, tap: Tap) -> Step: ...

    def on_answer(self, call: Call, value: object) -> Step: ...

    def shown(self) -> Shown: ...

    def wipe(self) -> None: ...


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
        self._offer = StaffUnlockOffer(port)
        self.passed = False

    def begin(self) -> Step:
        port = self._port
        self._asked = Call("pin-tries", lambda _edge: port.tries_left(), busy=ScreenName.LOADING)
        return self._asked

    def on_answer(self, call: Call, value: object) -> Step:
        if self._offer.steps is not None:
            return self._offer.steps.on_answer(call, value)
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
        if self._offer.handles(tap, locked=self._state is PinState.LOCKED):
            return self._on_unlock_tap(tap)
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

    def _on_unlock_tap(self, tap: Tap) -> Step:
        step = self._offer.on_tap(tap)
        if step is not LEAVE:
            return step
        if self._offer.finish():  # a new PIN on the card: the holder types it to go on
            self._state, self._tries = PinState.ENTRY, None
            return self.begin()
        return None  # back to the locked state

    def shown(self) -> Shown:
        if self._offer.steps is not None:
            return self._offer.steps.shown()
        return Shown(ScreenName.PIN, pad(self._entry, self._purpose, self._state, self._tries,
                                         self._step, self._steps,
                                         staff_unlock=self._offer.offered))

    def wipe(self) -> None:
        self._entry.wipe()
        self._offer.wipe()
        self._asked = None


def pad(entry: FieldEntry, purpose: str, state: PinState, tries: int | None,
        step: int = 1, steps: int = 1, *, staff_unlock: bool = False) -> PinPad:
    value = entry.value
    return PinPad(purpose, state, DOT * len(value), len(value), entry.max_length,
                  ready=len(value) >= entry.min_length, tries_left=tries, error=entry.error,
                  step=step, steps=steps,
                  staff_unlock=staff_unlock and state is PinState.LOCKED)


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
        self._offer = StaffUnlockOffer(port)

    def begin(self) -> Step:
        port = self._port
        self._asked = Call("pin-tries", lambda _edge: port.tries_left(), busy=ScreenName.LOADING)
        return self._asked

    def on_answer(self, call: Call, value: object) -> Step:
        if self._offer.steps is not None:
            return self._offer.steps.on_answer(call, value)
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

    def on_tap(self, tap: Tap) -> Step:  # noqa: PLR0911 (one return per way a tap ends)
        if self._offer.handles(tap, locked=self._state is PinState.LOCKED):
            step = self._offer.on_tap(tap)
            if step is not LEAVE:
                return step
            # A new PIN on the card: what this journey was for. Else back to the locked state.
            return LEAVE if self._offer.finish() else None
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
        if self._offer.steps is not None:
            return self._offer.steps.shown()
        purposes = ("pin.old", "pin.new", "pin.repeat")
        entry = self._entries[self._at]
        return Shown(ScreenName.PIN, pad(entry, "pin.changed" if self._state is PinState.CHANGED
                                         else purposes[self._at], self._state, self._tries,
                                         self._at + 1, 3, staff_unlock=self._offer.offered))

    def wipe(self) -> None:
        for entry in self._entries:
            entry.wipe()
        self._offer.wipe()
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
