"""An in-process card reader for fast unit tests of code that consumes card events.

It keeps the CardReader contract (events in order, health, idempotent stop) without PC/SC.
Tests through the real stack use drivers.card.pcsc with the virtual card instead.
"""

from __future__ import annotations

import threading

from drivers.base import EventHub, Health, HealthChanged, HealthState, Observer, Unsubscribe
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReadError,
    CardReadFailed,
    CardRemoved,
)


class FakeCardReader:
    kind = "card_reader"

    def __init__(self, name: str = "Fake Reader 00") -> None:
        self.name = name
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._health = Health(HealthState.OK)
        self._card: CardData | None = None
        self._failure: CardFailure | None = None
        self.started = False

    # Device contract
    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def health(self) -> Health:
        return self._health

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def read(self) -> CardData:
        with self._lock:
            if self._card is None:
                raise CardReadError(self._failure or CardFailure.REMOVED, "no card present")
            return self._card

    # Test controls
    def insert(self, data: CardData) -> None:
        """A card goes in and reads cleanly."""
        with self._lock:
            self._card, self._failure = data, None
        self._hub.publish(CardInserted(reader=self.name, atr=data.atr))
        self._hub.publish(CardRead(reader=self.name, data=data))

    def insert_failing(self, failure: CardFailure, atr: str = "3B00") -> None:
        """A card goes in and its read fails (pulled mid-read, gen-3 without PSAM, ...)."""
        with self._lock:
            self._card, self._failure = None, failure
        self._hub.publish(CardInserted(reader=self.name, atr=atr))
        self._hub.publish(CardReadFailed(reader=self.name, failure=failure))

    def remove(self) -> None:
        with self._lock:
            self._card, self._failure = None, None  # read() now fails as REMOVED
        self._hub.publish(CardRemoved(reader=self.name))

    def set_health(self, health: Health) -> None:
        self._health = health
        self._hub.publish(HealthChanged(kind=self.kind, health=health))
