"""An in-process card reader for fast unit tests of code that consumes card events.

It keeps the CardReader contract (events in order, health, idempotent stop) and the PIN
operations (PinCapableReader: a PIN with three tries, 63Cx / 6983 semantics) without PC/SC.
Tests through the real stack use drivers.card.pcsc with the virtual card instead.
"""

from __future__ import annotations

import hmac
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
    PartialCardData,
    Pin,
    PinOutcome,
    PinResult,
    ReloadAuthoriser,
    ReloadRefused,
    ReloadRequest,
    StaffCredential,
)

PIN_TRIES = 3
LOCKED = PinResult(PinOutcome.LOCKED, 0, "the PIN is locked: a staff member can reload it")
NO_CARD = PinResult(PinOutcome.REMOVED, None, "no card has been read in this reader")


class FakeCardReader:
    kind = "card_reader"

    def __init__(self, name: str = "Fake Reader 00") -> None:
        self.name = name
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._health = Health(HealthState.OK)
        self._card: CardData | None = None
        self._failure: CardFailure | None = None
        self._card_id: str | None = None
        self.started = False
        self.pin = "123456"  # of the card in the fake reader
        self.pin_tries = PIN_TRIES

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
    def insert(
        self, data: CardData, *, slot: str = "contact", pin: str = "123456",
        pin_tries: int = PIN_TRIES,
    ) -> None:
        """A card goes in and reads cleanly."""
        with self._lock:
            self._card, self._failure = data, None
            self._card_id = data.card_id_code
            self.pin, self.pin_tries = pin, pin_tries
        self._hub.publish(CardInserted(reader=self.name, atr=data.atr, slot=slot))
        self._hub.publish(CardRead(reader=self.name, data=data, slot=slot))

    def insert_failing(
        self, failure: CardFailure, atr: str = "3B00", *, slot: str = "contact",
        partial: PartialCardData | None = None, detail: str = "",
    ) -> None:
        """A card goes in and its read fails (pulled mid-read, gen-3 without PSAM, ...)."""
        with self._lock:
            self._card, self._failure = None, failure
            self._card_id = partial.card_id_code if partial is not None else None
        self._hub.publish(CardInserted(reader=self.name, atr=atr, slot=slot))
        self._hub.publish(CardReadFailed(
            reader=self.name, failure=failure, slot=slot, partial=partial, detail=detail,
        ))

    def remove(self, *, slot: str = "contact") -> None:
        with self._lock:
            self._card, self._failure = None, None  # read() now fails as REMOVED
            self._card_id = None
        self._hub.publish(CardRemoved(reader=self.name, slot=slot))

    # PIN operations (PinCapableReader), with a card's semantics
    def pin_tries_left(self) -> PinResult:
        with self._lock:
            if self._card_id is None:
                return NO_CARD
            return LOCKED if self.pin_tries == 0 else PinResult(PinOutcome.OK, self.pin_tries)

    def verify_pin(self, pin: Pin) -> PinResult:
        with self._lock:
            return self._check(pin)

    def change_pin(self, old: Pin, new: Pin) -> PinResult:
        with self._lock:
            result = self._check(old)
            if result.ok:
                self.pin = new.digits
            return result

    def reload_pin(
        self, new: Pin, staff: StaffCredential, authorise: ReloadAuthoriser
    ) -> PinResult:
        return self._staff("reload", staff, authorise, new)

    def unblock_pin(self, staff: StaffCredential, authorise: ReloadAuthoriser) -> PinResult:
        return self._staff("unblock", staff, authorise, None)

    def _check(self, pin: Pin) -> PinResult:
        if self._card_id is None:
            return NO_CARD
        if self.pin_tries == 0:
            return LOCKED
        if hmac.compare_digest(pin.digits.encode(), self.pin.encode()):
            self.pin_tries = PIN_TRIES
            return PinResult(PinOutcome.OK)
        self.pin_tries -= 1
        if self.pin_tries == 0:
            return LOCKED
        return PinResult(PinOutcome.WRONG_PIN, self.pin_tries, "wrong PIN")

    def _staff(
        self, operation: str, staff: StaffCredential, authorise: ReloadAuthoriser,
        new: Pin | None,
    ) -> PinResult:
        card_id = self._card_id
        if card_id is None:
            return NO_CARD
        request = ReloadRequest(operation, card_id, "00" * 8, staff)
        try:
            mac = authorise(request)
        except ReloadRefused as exc:
            return PinResult(PinOutcome.REFUSED, None, f"staff authorisation refused: {exc}")
        if len(mac) != 4:  # the fake checks the form only; the virtual card checks the MAC
            return PinResult(PinOutcome.REFUSED, None, "the authoriser answered no 4-byte MAC")
        with self._lock:
            if new is not None:
                self.pin = new.digits
            self.pin_tries = PIN_TRIES
        return PinResult(PinOutcome.OK)

    def set_health(self, health: Health) -> None:
        self._health = health
        self._hub.publish(HealthChanged(kind=self.kind, health=health))
