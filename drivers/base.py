"""What every driver offers: setup/teardown, health, and device events to observers.

Modelled on pyscard's card monitoring (observers notified of insert/remove) and Home Assistant's
integration contract (explicit setup and teardown, health that says why, and its coordinator's
one log line when a device is lost and one when it is back: `HealthTracker`).
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
    # Stable machine name: a member of the kind's `<Kind>HealthCode` StrEnum (a str, so JSON
    # output is the plain value), e.g. CardHealthCode.READER_MISSING == "reader-missing".
    code: str = "ok"
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


class HealthTracker:
    """A driver's current health: change detection, one INFO line per change, HealthChanged.

    `set()` records a finding. Nothing happens when state and code are what they were (the
    reason alone changing is no news), except that the first finding of a run is always
    published so that observers learn where a freshly started driver stands (`restart()` on
    each start). Each change logs one line at INFO: "lost" when leaving ok, "recovered" when
    back to ok, "health" between two problems.
    `publish` is how the driver hands out events (it may drop them, e.g. after stop()).
    Thread-safe; `current` is cheap.
    """

    def __init__(
        self,
        kind: str,
        publish: Callable[[DeviceEvent], object],
        initial: Health,
        logger: logging.Logger | None = None,
    ) -> None:
        self.kind = kind
        self._publish = publish
        self._health = initial
        self._published = False
        self._lock = threading.Lock()
        self._log = logger or log

    @property
    def current(self) -> Health:
        return self._health

    def restart(self) -> None:
        """A new run (start() after stop()): its first finding is published again."""
        with self._lock:
            self._published = False

    def set(self, state: HealthState, code: str, reason: str = "") -> bool:
        """Record a finding; True when it was a change (logged and published)."""
        with self._lock:
            before = self._health if self._published else None
            if before is not None and (before.state, before.code) == (state, code):
                return False
            self._published = True
            self._health = health = Health(state, code, reason)
        self._log_change(before, health)
        self._publish(HealthChanged(kind=self.kind, health=health))
        return True

    def _log_change(self, before: Health | None, after: Health) -> None:
        what = reason_or(after)
        if before is None:  # the first finding after start
            self._log.info("%s: %s (%s)", self.kind, after.code, what)
        elif after.state is HealthState.OK and before.state is not HealthState.OK:
            self._log.info("%s recovered (was %s)", self.kind, before.code)
        elif after.state is HealthState.OK:
            self._log.info("%s ok (was %s)", self.kind, before.code)
        elif before.state is HealthState.OK:
            self._log.info("%s lost: %s (%s)", self.kind, after.code, what)
        else:
            self._log.info("%s health: %s (%s)", self.kind, after.code, what)


def reason_or(health: Health) -> str:
    """The reason, or the state when the driver gave none: for log lines."""
    return health.reason or str(health.state)


@runtime_checkable
class Device(Protocol):
    """Lifecycle every driver keeps.

    - `start()` begins monitoring. It never raises because hardware is absent: absence shows in
      `health()` and as a `HealthChanged` event, and the driver keeps retrying by itself.
    - `stop()` returns within a second whatever the hardware does (a thread stuck in a call
      that cannot be interrupted is abandoned, not joined), releases the hardware, and is
      idempotent. Nothing is published after it returns.
    - `health()` is cheap (no I/O) and safe from any thread.
    - `subscribe()` registers an observer of `DeviceEvent`s; the returned callable removes it.
    """

    kind: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> Health: ...

    def subscribe(self, observer: Observer) -> Unsubscribe: ...
