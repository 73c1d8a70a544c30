"""The card's PIN: checked by the card, tries left shown, locked explained, and changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.card.fake import FakeCardReader
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.journeys.pin import PinPad, PinState, weak
from kiosk.flow.pin_kit import install_pin_port
from tests.kiosk.device_fakes import FakePinPort, PinResult
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge, sample_card
from tests.kiosk.flow.test_core import CONFIG


class PinKiosk:
    def __init__(self, card: FakePinPort) -> None:
        self.card = card
        self.tasks = ManualTasks()
        self.edge = ScriptedEdge()
        self.flow = KioskFlow(self.edge, self.tasks, ManualClock(), CONFIG,
                              capabilities=frozenset({"card-pin"}))
        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)
        self.reader.insert(sample_card())
        self.tasks.run_all()

    @property
    def pad(self) -> PinPad:
        content = self.flow.view.content
        assert content is not None and isinstance(content.data, PinPad), self.flow.view
        return content.data

    def type(self, digits: str) -> None:
        for char in digits:
            self.flow.handle(Tap(Action.KEY, value=char))

    def tap(self, action: Action) -> None:
        self.flow.handle(Tap(action))

    def enter(self, digits: str) -> None:
        self.type(digits)
        self.tap(Action.NEXT)
        self.tasks.run_all()


@pytest.fixture
def card() -> Iterator[FakePinPort]:
    port = FakePinPort(pin="135790")
    install_pin_port(port)
    yield port
    install_pin_port(None)


def test_pin_change_is_offered_only_to_card_sessions_with_a_pin_port(card: FakePinPort) -> None:
    kiosk = PinKiosk(card)
    assert "pin-change" in kiosk.flow.view.journeys
    bare = KioskFlow(ScriptedEdge(), ManualTasks(), ManualClock(), CONFIG)
    reader = FakeCardReader()
    reader.subscribe(bare.handle)
    assert "pin-change" not in bare.view.journeys


def test_changing_the_pin_old_new_repeat_on_a_masked_keypad(card: FakePinPort) -> None:
    kiosk = PinKiosk(card)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    assert kiosk.flow.view.screen is ScreenName.LOADING  # asking the card: no try used
    kiosk.tasks.run_all()
    assert card.calls == [("tries",)]
    pad = kiosk.pad
    assert (pad.purpose, pad.tries_left, pad.step, pad.steps) == ("pin.old", 3, 1, 3)
    kiosk.type("135790")
    assert kiosk.pad.shown == "●" * 6 and "135790" not in repr(kiosk.flow.view)
    kiosk.tap(Action.NEXT)
    assert kiosk.pad.purpose == "pin.new"
    kiosk.type("111111")  # too weak
    kiosk.tap(Action.NEXT)
    assert kiosk.pad.error == "pin.error.weak" and kiosk.pad.length == 0
    kiosk.type("802461")
    kiosk.tap(Action.NEXT)
    assert kiosk.pad.purpose == "pin.repeat"
    kiosk.type("802460")  # a different repeat: the new PIN again
    kiosk.tap(Action.NEXT)
    assert kiosk.pad.purpose == "pin.new" and kiosk.pad.error == "pin.error.repeat"
    kiosk.type("802461")
    kiosk.tap(Action.NEXT)
    kiosk.type("802461")
    kiosk.tap(Action.NEXT)
    assert kiosk.flow.view.screen is ScreenName.PIN and kiosk.pad.state is PinState.CHECKING
    kiosk.tasks.run_all()
    assert card.calls[-1] == ("change", "135790", "802461") and card.pin == "802461"
    assert kiosk.pad.state is PinState.CHANGED
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME
    steps_left = kiosk.flow._active
    assert steps_left is None


def test_a_wrong_old_pin_shows_the_tries_left_and_locking_is_explained(card: FakePinPort) -> None:
    kiosk = PinKiosk(card)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    kiosk.tasks.run_all()
    for attempt in (2, 1):
        kiosk.type("000000")
        kiosk.tap(Action.NEXT)
        kiosk.type("802461")
        kiosk.tap(Action.NEXT)
        kiosk.type("802461")
        kiosk.tap(Action.NEXT)
        kiosk.tasks.run_all()
        pad = kiosk.pad
        assert (pad.purpose, pad.error, pad.tries_left) == ("pin.old", "pin.error.wrong",
                                                            attempt)
        assert pad.length == 0  # wiped: typed again from the start
    kiosk.type("000000")
    kiosk.tap(Action.NEXT)
    kiosk.type("802461")
    kiosk.tap(Action.NEXT)
    kiosk.type("802461")
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_all()
    assert kiosk.pad.state is PinState.LOCKED and not kiosk.pad.accepts_keys
    kiosk.type("1")  # no key does anything on a locked card
    assert kiosk.pad.length == 0
    kiosk.tap(Action.DONE)
    assert kiosk.flow.view.screen is ScreenName.HOME


def test_a_locked_card_is_explained_before_anything_is_typed(card: FakePinPort) -> None:
    card.tries = 0
    kiosk = PinKiosk(card)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    kiosk.tasks.run_all()
    assert kiosk.pad.state is PinState.LOCKED and kiosk.pad.tries_left == 0


def test_a_card_pulled_mid_check_and_a_silent_reader(card: FakePinPort) -> None:
    kiosk = PinKiosk(card)
    card.answers = [PinResult("ok", 3), PinResult("removed")]
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    kiosk.tasks.run_all()
    for digits in ("135790", "802461", "802461"):
        kiosk.enter(digits)
    assert kiosk.pad.state is PinState.REMOVED
    card.answers = [PinResult("reader-unavailable")]
    kiosk.tap(Action.DONE)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    kiosk.tasks.run_all()
    assert kiosk.pad.state is PinState.UNAVAILABLE


def test_pin_digits_are_wiped_when_the_card_is_pulled(card: FakePinPort) -> None:
    kiosk = PinKiosk(card)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "pin-change"))
    kiosk.tasks.run_all()
    kiosk.type("1357")
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    kiosk.reader.remove()
    assert kiosk.flow.view.screen is ScreenName.ATTRACT
    assert all(entry.value == "" for entry in steps._entries)


@pytest.mark.parametrize(("pin", "is_weak"), [
    ("111111", True), ("123456", True), ("654321", True), ("802461", False), ("112233", False),
])
def test_weak_pins(pin: str, is_weak: bool) -> None:
    assert weak(pin) is is_weak
