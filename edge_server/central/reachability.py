"""What the last contact with the central platform said, for the health endpoint."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

Reachability = Literal["unknown", "reachable", "unreachable"]

log = logging.getLogger(__name__)


class ReachabilityTracker:
    """Thread-safe: worker threads mark it, the event loop reads it (without a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Reachability = "unknown"
        self._at: float | None = None
        self._on_recovery: list[Callable[[], None]] = []

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the marking thread) whenever an unreachable platform answers
        again: the outbox relay then stops waiting out its backoff."""
        self._on_recovery.append(callback)

    def mark(self, reachable: bool) -> None:
        with self._lock:
            recovered = reachable and self._state == "unreachable"
            self._state = "reachable" if reachable else "unreachable"
            self._at = time.monotonic()
        if recovered:
            for callback in self._on_recovery:
                try:
                    callback()
                except Exception:
                    log.exception("a central-recovery callback failed")

    @property
    def state(self) -> Reachability:
        with self._lock:
            return self._state

    def age_s(self) -> float | None:
        """Seconds since the last contact, None before the first."""
        with self._lock:
            return None if self._at is None else time.monotonic() - self._at
