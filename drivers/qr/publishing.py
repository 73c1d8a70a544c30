"""What the serial and the camera scanner share: debouncing, counters, and the events of one run.

A code held in front of a scanner is read again and again (a serial scanner in continuous
mode, a camera 15 times a second); the kiosk wants it once (interface.py). `Debouncer` keeps
the last payload and when it was last seen: the same payload within `debounce_s` of its last
sighting is not published again, so a code held still is published once however long it is
held, and again only after it was away for `debounce_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from drivers.base import DeviceEvent, EventHub, Observer, Unsubscribe
from drivers.qr.interface import CodeScanned, ScanRejected, ScanRejection

log = logging.getLogger(__name__)


class Debouncer:
    def __init__(self, debounce_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if debounce_s < 0:
            raise ValueError("debounce_s is not negative")
        self.debounce_s = debounce_s
        self._clock = clock
        self._last: bytes | None = None
        self._seen_at = 0.0

    def fresh(self, payload: bytes) -> bool:
        """True when `payload` is news (publish it); either way it is the last one seen."""
        now = self._clock()
        repeat = payload == self._last and now - self._seen_at < self.debounce_s
        self._last, self._seen_at = payload, now
        return not repeat

    def reset(self) -> None:
        self._last = None


class ScanEvents:
    """Observers, counters and the run's gate: nothing is published once `close()` returned
    (a stop() in progress waits for an event being delivered)."""

    def __init__(self, scanner: str, debounce_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.scanner = scanner
        self.debouncer = Debouncer(debounce_s, clock)
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._open = False
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def open(self) -> None:
        with self._lock:
            self._open = True
            self.debouncer.reset()

    def close(self) -> None:
        # Taken with a timeout: an observer that calls stop() from its own callback must not
        # deadlock (stop() < 1 s); the gate is shut either way.
        got = self._lock.acquire(timeout=0.3)
        self._open = False
        if got:
            self._lock.release()

    def publish(self, event: DeviceEvent) -> None:
        with self._lock:
            if self._open:
                self._hub.publish(event)

    def count(self, name: str, by: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += by

    def stats(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def scanned(self, payload: bytes, symbology: str = "QR") -> bool:
        """Publish a read unless it repeats the last one; True when published."""
        if not self.debouncer.fresh(payload):
            self.count("debounced")
            return False
        self.count("scanned")
        self.publish(CodeScanned(scanner=self.scanner, payload=payload, symbology=symbology))
        return True

    def rejected(self, rejection: ScanRejection, size: int, reason: str) -> None:
        """One refused read: counted by kind, one log line with the reason, never the bytes."""
        self.count(str(rejection))
        log.info("qr scanner %s: discarded a read (%s, %d bytes): %s", self.scanner,
                 rejection, size, reason)
        self.publish(ScanRejected(scanner=self.scanner, rejection=rejection, size=size))
