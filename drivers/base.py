"""What every driver offers: setup/teardown, health, and device events to observers.

Modelled on pyscard's card monitoring (observers notified of insert/remove) and Home Assistant's
integration contract (explicit setup and teardown, health that says why).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # works, but something needs attention (paper low, slow reads)
    MISSING = "missing"  # cannot be used now (not plugged in, service down)


@dataclass(frozen=True)
class Health:
    state: HealthState
    code: str = "ok"  # stable machine name: "reader-missing", "pcsc-unavailable", ...
    reason: str = ""  # one short English sentence for operators
    checked_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        return {"state": str(self.state), "code": self.code, "reason": self.reason,
                "checked_at": self.checked_at}


@dataclass(frozen=True)
class DeviceEvent:
    """Base of every event a driver publishes. `at` is wall-clock seconds."""

    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class HealthChanged(DeviceEvent):
    kind: str
    health: Health


Observer = Callable[[DeviceEvent], None]
Unsubscribe = Callable[[], None]


class EventHub:
    """Thread-safe observer list. Observers run on the driver's thread and must return quickly
    (hand the event to the UI thread or a queue); an observer that raises is logged, not fatal."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self._lock = threading.Lock()

    def subscribe(self, observer: Observer) -> Unsubscribe:
        with self._lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def publish(self, event: DeviceEvent) -> None:
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:
                log.exception("device event observer failed on %s", type(event).__name__)


@runtime_checkable
class Device(Protocol):
    """Lifecycle every driver keeps.

    - `start()` begins monitoring. It never raises because hardware is absent: absence shows in
      `health()` and as a `HealthChanged` event, and the driver keeps retrying by itself.
    - `stop()` ends all threads and releases the hardware; it is idempotent.
    - `health()` is cheap (no I/O) and safe from any thread.
    - `subscribe()` registers an observer of `DeviceEvent`s; the returned callable removes it.
    """

    kind: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> Health: ...

    def subscribe(self, observer: Observer) -> Unsubscribe: ...
