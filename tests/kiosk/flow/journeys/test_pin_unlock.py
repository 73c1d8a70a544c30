"""A staff member unlocks a locked card PIN at the kiosk: staff ID, staff code, the holder's
new PIN twice, then RELOAD PIN on the card with the issuer's MAC. The card here is the virtual
card applet (simulators/card) behind the driver's own PIN code (drivers/card/pin.py) and the
kiosk's real port (kiosk/card_pin.py); the edge answers from the stand-in key centre."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.card import pin as card_pin_code
from drivers.card.fake import FakeCardReader
from drivers.card.interface import Pin, PinOutcome, PinResult, StaffCredential
from kiosk.card_pin import CardPin
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.journeys.pin import STAFF_UNLOCK, PinCheck, PinPad, PinState
from kiosk.flow.journeys.steps import Keypad
from kiosk.flow.pin_kit import install_pin_port, installed_pin_port
from simulators.card import keys
from simulators.card.applet import SscCard
from simulators.central.population import Population
from tests.kiosk.device_fakes import FakePinPort
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge, sample_card
from tests.kiosk.flow.test_core import CONFIG

STAFF_ID, STAFF_CODE = "10001", "135790"
CENTRE = keys.KeyCentre(staff={STAFF_ID: STAFF_CODE})


class AppletReader:
    """The driver's PIN commands (drivers/card/pin.py) on a virtual card in memory: what the
    PC/SC driver does once it holds the card, without pcscd."""

    def __init__(self, card: SscCard) -> None:
        self.card = card
        self.pulled = False

    def transmit(self, command: bytes) -> bytes:
        return self.card.process(command)

    def pin_tries_left(self) -> Any:
        return card_pin_code.tries_left(self, t0=False)

    def verify_pin(self, pin: Pin) -> Any:
        return card_pin_code.verify(self, pin, t0=False)

    def change_pin(self, old: Pin, new: Pin) -> Any:
        return card_pin_code.change(self, old, new, t0=False)

    def reload_pin(self, new: Pin, staff: StaffCredential, authorise: Any) -> Any:
        if self.pulled:
            return PinResult(PinOutcome.REMOVED, None, "no card in the reader")
        return card_pin_code.staff_command(
            self, card_pin_code.RELOAD, new, t0=False,
            card_id_code=self.card.profile.card_id_code, staff=staff, authorise=authorise)


@dataclass
class KeyCentreEdge(ScriptedEdge):
    """The edge's pin-authorisation call, answered by the stand-in key centre (or a fault)."""

    authorise_script: list[Any] = field(default_factory=lambda: [None])
    authorise_calls: list[tuple[str, ...]] = field(default_factory=list)

    def authorise_pin(self, operation: str, card_id_code: str, challenge: str, staff_id: str,
                      staff_code: str) -> bytes:
        self.authorise_calls.append((operation, card_id_code, challenge, staff_id))
        forced = self._next(self.authorise_script)
        if forced is not None:
            return forced  # type: ignore[no-any-return]
        try:
            return CENTRE.authorise(operation, card_id_code, challenge, staff_id, staff_code)
        except keys.ReloadRefused:
            raise EdgeProblem("staff-refused", 403) from None


class UnlockKiosk:
    def __init__(self, edge: KeyCentreEdge | None = None) -> None:
        self.tasks = ManualTasks()
        self.edge = edge or KeyCentreEdge()
        self.flow = KioskFlow(self.edge, self.tasks, ManualClock(), CONFIG,
                              capabilities=frozenset({"card-pin"}))
        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)
        self.reader.insert(sample_card())
        self.tasks.run_all()

    @property
    def data(self) -> Any:
        content = self.flow.view.content
        assert content is not None, self.flow.view
        return content.data

    @property
    def pad(self) -> PinPad:
        assert isinstance(self.data, PinPad), self.flow.view
        return self.data

    def tap(self, action: Action, value: str | None = None) -> None:
        self.flow.handle(Tap(action, value=value))

    def enter(self, digits: str) -> None:
        for char in digits:
            self.tap(Action.KEY, char)
        self.tap(Action.NEXT)

    def locked_pin_change(self) -> None:
        self.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
        self.tasks.run_all()
        assert self.pad.state is PinState.LOCKED

    def unlock(self, staff_id: str, code: str, new: str) -> None:
        self.tap(Action.CHOOSE, STAFF_UNLOCK)
        for digits in (staff_id, code, new, new):
            self.enter(digits)
        self.tasks.run_all()


@pytest.fixture
def card() -> Iterator[SscCard]:
    chip = SscCard.from_citizen(Population(42, 5000).citizen(7), generation=2, protocol="T=1",
                                pin="123456", pin_tries=0)
    install_pin_port(CardPin(AppletReader(chip)))
    yield chip
    install_pin_port(None)


def test_a_locked_pin_is_unlocked_by_staff_and_the_holder_sets_a_new_one(card):
    kiosk = UnlockKiosk()
    kiosk.locked_pin_change()
    assert kiosk.pad.staff_unlock is True
    kiosk.tap(Action.CHOOSE, STAFF_UNLOCK)
    assert kiosk.flow.view.screen is ScreenName.KEYPAD
    keypad = kiosk.data
    assert isinstance(keypad, Keypad)
    assert (keypad.label, keypad.step, keypad.steps) == ("pin_unlock.staff_id", 1, 4)
    kiosk.enter(STAFF_ID)
    assert (kiosk.pad.purpose, kiosk.pad.step) == ("pin_unlock.staff_code", 2)
    for char in STAFF_CODE:
        kiosk.tap(Action.KEY, char)
    assert kiosk.pad.shown == "●" * 6 and STAFF_CODE not in repr(kiosk.flow.view)
    kiosk.tap(Action.NEXT)
    assert (kiosk.pad.purpose, kiosk.pad.step) == ("pin_unlock.new", 3)
    kiosk.enter("111111")  # too weak
    assert kiosk.pad.error == "pin.error.weak"
    kiosk.enter("802461")
    assert kiosk.pad.purpose == "pin_unlock.repeat"
    kiosk.enter("802460")  # not the same: the new PIN again
    assert (kiosk.pad.purpose, kiosk.pad.error) == ("pin_unlock.new", "pin.error.repeat")
    kiosk.enter("802461")
    kiosk.enter("802461")
    assert kiosk.pad.state is PinState.CHECKING
    assert card.pin_tries == 0  # nothing happens before the worker runs the reload
    kiosk.tasks.run_all()
    assert kiosk.pad.state is PinState.UNLOCKED
    assert (card.pin, card.pin_tries) == ("802461", 3)
    (operation, card_id, challenge, staff_id), = kiosk.edge.authorise_calls
    assert (operation, card_id, staff_id) == ("reload", card.profile.card_id_code, STAFF_ID)
    assert len(challenge) == 16
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME
    assert all(entry.value == "" for entry in steps._entries)


def test_a_wrong_staff_code_is_refused_and_the_pin_stays_locked(card):
    kiosk = UnlockKiosk()
    kiosk.locked_pin_change()
    kiosk.unlock(STAFF_ID, "246800", "802461")
    assert kiosk.pad.state is PinState.STAFF_REFUSED
    assert (card.pin, card.pin_tries) == ("123456", 0)
    kiosk.tap(Action.DONE)  # back to the locked PIN, with the offer again
    assert kiosk.pad.state is PinState.LOCKED and kiosk.pad.staff_unlock is True
    kiosk.unlock(STAFF_ID, STAFF_CODE, "802461")  # the right code on a second go
    assert kiosk.pad.state is PinState.UNLOCKED and card.pin == "802461"


@pytest.mark.parametrize(("fault", "state"), [
    (EdgeProblem("central-unavailable", 503, retry_after_s=30), PinState.CENTRAL_DOWN),
    (EdgeUnreachable("connect refused"), PinState.CENTRAL_DOWN),
    (EdgeProblem("too-many-requests", 429, retry_after_s=30), PinState.STAFF_LIMITED),
    (EdgeProblem("invalid-response", 200), PinState.UNAVAILABLE),
    (b"\x00\x00\x00\x00", PinState.UNAVAILABLE),  # a MAC the card does not take (6988)
])
def test_each_way_the_authorisation_can_fail_says_so_and_changes_nothing(card, fault, state):
    kiosk = UnlockKiosk(KeyCentreEdge(authorise_script=[fault]))
    kiosk.locked_pin_change()
    kiosk.unlock(STAFF_ID, STAFF_CODE, "802461")
    assert kiosk.pad.state is state
    assert (card.pin, card.pin_tries) == ("123456", 0)
    assert len(kiosk.edge.authorise_calls) == 1  # never retried: the challenge is spent


def test_a_card_pulled_before_the_reload_says_put_it_back(card):
    kiosk = UnlockKiosk()
    kiosk.locked_pin_change()
    port = installed_pin_port()
    assert isinstance(port, CardPin)
    port._reader.pulled = True  # the driver then answers "removed" at once
    kiosk.unlock(STAFF_ID, STAFF_CODE, "802461")
    assert kiosk.pad.state is PinState.REMOVED
    assert kiosk.edge.authorise_calls == [] and card.pin_tries == 0


def test_the_typed_digits_are_wiped_when_the_card_is_pulled_mid_entry(card):
    kiosk = UnlockKiosk()
    kiosk.locked_pin_change()
    kiosk.tap(Action.CHOOSE, STAFF_UNLOCK)
    kiosk.enter(STAFF_ID)
    for char in STAFF_CODE[:4]:
        kiosk.tap(Action.KEY, char)
    host = kiosk.flow._active.steps  # type: ignore[union-attr]
    unlock = host._offer.steps
    kiosk.reader.remove()
    assert kiosk.flow.view.screen is ScreenName.ATTRACT
    assert host._offer.steps is None
    assert all(entry.value == "" for entry in unlock._entries)


def test_back_walks_the_steps_and_leaves_to_the_locked_pin(card):
    kiosk = UnlockKiosk()
    kiosk.locked_pin_change()
    kiosk.tap(Action.CHOOSE, STAFF_UNLOCK)
    kiosk.enter(STAFF_ID)
    kiosk.tap(Action.BACK)
    assert kiosk.flow.view.screen is ScreenName.KEYPAD and kiosk.data.length == len(STAFF_ID)
    kiosk.tap(Action.BACK)
    assert kiosk.pad.state is PinState.LOCKED
    assert kiosk.edge.authorise_calls == []


def test_after_an_unlock_the_pin_check_of_another_journey_takes_the_new_pin(card):
    edge = KeyCentreEdge()
    check = PinCheck(CardPin(AppletReader(card)))

    def run(step: Any) -> None:
        while step is not None and hasattr(step, "run"):
            step = check.on_answer(step, step.run(edge))

    run(check.begin())
    assert check.shown().data.state is PinState.LOCKED
    run(check.on_tap(Tap(Action.CHOOSE, value=STAFF_UNLOCK)))
    for digits in (STAFF_ID, STAFF_CODE, "802461", "802461"):
        for char in digits:
            run(check.on_tap(Tap(Action.KEY, value=char)))
        run(check.on_tap(Tap(Action.NEXT)))
    assert check.shown().data.state is PinState.UNLOCKED
    run(check.on_tap(Tap(Action.DONE)))  # asks the tries left again: the holder types it
    pad = check.shown().data
    assert (pad.state, pad.purpose, pad.tries_left) == (PinState.ENTRY, "pin.verify", 3)
    for char in "802461":
        run(check.on_tap(Tap(Action.KEY, value=char)))
    run(check.on_tap(Tap(Action.NEXT)))
    assert check.passed


def test_no_offer_where_the_reader_cannot_reload():
    port = FakePinPort(tries=0)
    install_pin_port(port)
    try:
        kiosk = UnlockKiosk()
        assert "pin-unlock" not in kiosk.flow.view.journeys
        kiosk.locked_pin_change()
        assert kiosk.pad.staff_unlock is False
        kiosk.tap(Action.CHOOSE, STAFF_UNLOCK)
        assert kiosk.pad.state is PinState.LOCKED
    finally:
        install_pin_port(None)


def test_the_staff_reset_is_a_service_of_card_sessions_with_a_reloading_reader(card):
    card.set_pin(tries=3)  # not locked: a forgotten PIN
    kiosk = UnlockKiosk()
    assert "pin-unlock" in kiosk.flow.view.journeys
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-unlock"))
    assert kiosk.flow.view.screen is ScreenName.KEYPAD
    for digits in (STAFF_ID, STAFF_CODE, "802461", "802461"):
        kiosk.enter(digits)
    kiosk.tasks.run_all()
    assert kiosk.pad.state is PinState.UNLOCKED and card.pin == "802461"
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME
