"""The flow's PIN port over the card reader: through pcscd + vpcd + the virtual card, and the
adapter's own guards (absent readers, driver bugs, digits the card would refuse)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from drivers.absent import AbsentCardReader
from drivers.base import DeviceEvent, HealthChanged
from drivers.card.interface import CardRead, CardRemoved
from drivers.card.pcsc import PcscCardReader
from kiosk.card_pin import CardPin, card_pin_from
from kiosk.flow.pin_kit import PinOutcome, outcome_of
from simulators.card.applet import SscCard
from simulators.central.population import Population
from tests.simulators.card.vcard import CardSlot


class Events:
    def __init__(self) -> None:
        self.queue: queue.Queue[DeviceEvent] = queue.Queue()

    def __call__(self, event: DeviceEvent) -> None:
        self.queue.put(event)

    def next(self, kind: type[DeviceEvent]) -> DeviceEvent:
        while True:
            event = self.queue.get(timeout=10)
            if isinstance(event, kind):
                return event


@pytest.fixture(scope="module")
def reader(pcscd) -> Iterator[tuple[PcscCardReader, CardSlot, Events]]:
    with CardSlot(pcscd.vpcd_port, slot=0) as slot:
        driver = PcscCardReader("Virtual PCD 00 00", poll_timeout_s=0.2, pin_timeout_s=5.0)
        events = Events()
        driver.subscribe(events)
        driver.start()
        try:
            events.next(HealthChanged)
            yield driver, slot, events
        finally:
            driver.stop()


def test_the_pin_is_checked_and_changed_on_the_virtual_card(reader) -> None:
    driver, slot, events = reader
    card = SscCard.from_citizen(Population(42, 5000).citizen(7), generation=2,
                                protocol="T=1", pin="135790")
    slot.insert(card)
    try:
        events.next(CardRead)
        port = card_pin_from(driver)
        assert isinstance(port, CardPin)
        first = port.tries_left()
        assert outcome_of(first) is PinOutcome.OK and first.tries_left == 3
        wrong = port.verify("000000")
        assert outcome_of(wrong) is PinOutcome.WRONG_PIN and wrong.tries_left == 2
        assert port.tries_left().tries_left == 2  # asking used no try
        assert outcome_of(port.change("135790", "802461")) is PinOutcome.OK
        assert outcome_of(port.verify("135790")) is PinOutcome.WRONG_PIN
        assert outcome_of(port.verify("802461")) is PinOutcome.OK
    finally:
        slot.remove()
        events.next(CardRemoved)


def test_readers_without_pin_operations_give_no_port() -> None:
    assert card_pin_from(AbsentCardReader("card_reader", "not-configured", "none here")) is None
    assert card_pin_from(object()) is None


def test_the_adapter_never_raises() -> None:
    class Broken:
        def pin_tries_left(self) -> Any:
            raise RuntimeError("a driver bug")

        def verify_pin(self, pin: Any) -> Any:
            raise AssertionError("never called with bad digits")

        def change_pin(self, old: Any, new: Any) -> Any:
            raise RuntimeError("a driver bug")

    port = CardPin(Broken())
    assert port.tries_left().outcome == PinOutcome.FAILED
    assert port.verify("12").outcome == PinOutcome.FAILED  # too short for a Pin
    assert port.change("123456", "654321").outcome == PinOutcome.FAILED
