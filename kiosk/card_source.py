"""Which card reader the kiosk uses, chosen by `settings.card_driver`.

The PC/SC driver is imported lazily: pyscard loads libpcsclite, which a kiosk without a reader
(and `kioskctl --help`) should not need.
"""

from __future__ import annotations

import logging

from drivers.base import EventHub, Health, HealthState, Observer, Unsubscribe
from drivers.card.interface import CardData, CardFailure, CardReader, CardReadError

log = logging.getLogger(__name__)


class AbsentCardReader:
    """A reader that is not there: a terminal built without one, or a driver that failed to load.

    It keeps the CardReader contract, publishes nothing and reports `missing` with the reason,
    so the status endpoint (and the fleet) can tell "no reader by design" from "reader broken".
    """

    kind = "card_reader"

    def __init__(self, code: str, reason: str) -> None:
        self._health = Health(HealthState.MISSING, code=code, reason=reason)
        self._hub = EventHub()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def health(self) -> Health:
        return self._health

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def read(self) -> CardData:
        raise CardReadError(CardFailure.READER_UNAVAILABLE, self._health.reason)


def build_card_reader(driver: str, reader_name: str | None) -> CardReader:
    if driver == "none":
        return AbsentCardReader("not-configured", "this terminal is configured without a reader")
    if driver != "pcsc":
        raise ValueError(f"unknown card driver {driver!r}")
    try:
        from drivers.card.pcsc import PcscCardReader
    except ImportError as exc:
        # The kiosk still starts (staff can see the reason on /status) instead of crash-looping.
        log.error("card driver pcsc cannot be loaded: %s", exc)
        return AbsentCardReader("driver-unavailable", f"PC/SC driver failed to load: {exc}")
    return PcscCardReader(reader_name=reader_name)
