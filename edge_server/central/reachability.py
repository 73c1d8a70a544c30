"""What the last contact with the central platform said, for the health endpoint."""

from __future__ import annotations

import threading
import time
from typing import Literal

Reachability = Literal["unknown", "reachable", "unreachable"]


class ReachabilityTracker:
    """Thread-safe: worker threads mark it, the event loop reads it (without a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Reachability = "unknown"
        self._at: float | None = None

    def mark(self, reachable: bool) -> None:
        with self._lock:
            self._state = "reachable" if reachable else "unreachable"
            self._at = time.monotonic()

    @property
    def state(self) -> Reachability:
        with self._lock:
            return self._state

    def age_s(self) -> float | None:
        """Seconds since the last contact, None before the first."""
        with self._lock:
            return None if self._at is None else time.monotonic() - self._at
