"""Fixtures for the card driver's tests: the synthetic population, a vpcd slot, a reader."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator

import pytest

from drivers.base import DeviceEvent
from drivers.card.pcsc import PcscCardReader
from simulators.central.population import Population
from simulators.stack.services import Pcscd
from tests.simulators.card.vcard import CardSlot

EVENT_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(42, 5000)


@pytest.fixture
def card_slot(pcscd: Pcscd) -> Iterator[CardSlot]:
    with CardSlot(pcscd.vpcd_port, slot=0) as slot:
        yield slot


class EventLog:
    """The reader's events in a queue; `next()` waits for the next one."""

    def __init__(self) -> None:
        self.events: queue.Queue[DeviceEvent] = queue.Queue()

    def __call__(self, event: DeviceEvent) -> None:
        self.events.put(event)

    def next(self, kind: type[DeviceEvent] | None = None, timeout: float = EVENT_TIMEOUT_S):
        """The next event (skipping other kinds when `kind` is given)."""
        while True:
            event = self.events.get(timeout=timeout)
            if kind is None or isinstance(event, kind):
                return event

    def pending(self) -> list[DeviceEvent]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out


@contextlib.contextmanager
def started(driver: PcscCardReader) -> Iterator[tuple[PcscCardReader, EventLog]]:
    """`driver` started, its events logged, stopped at the end; health is ok when yielded."""
    from drivers.base import HealthChanged

    log = EventLog()
    driver.subscribe(log)
    driver.start()
    try:
        health = log.next(HealthChanged).health
        assert health.code == "ok", health
        yield driver, log
    finally:
        driver.stop()


@pytest.fixture
def reader(pcscd: Pcscd) -> Iterator[tuple[PcscCardReader, EventLog]]:
    """A started reader on slot 0 with its events logged; health is ok when it is yielded."""
    with started(PcscCardReader("Virtual PCD 00 00", poll_timeout_s=0.2)) as pair:
        yield pair
