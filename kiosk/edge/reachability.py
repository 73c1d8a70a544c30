"""What the kiosk last learnt of its edge connection, for /status (docs/contracts/kiosk-status.md).

Nothing probes the edge on purpose: every call the client makes (a citizen's, the token
renewer's, the field queue's) records its outcome here. Reachable means the edge itself
answered, whatever the status (a 401 or a 422 is still an answer); unreachable means no usable
answer came (connect refused, deadline, a gateway's 502/503/504: kiosk.edge.errors.EdgeUnreachable).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class EdgeContact:
    reachable: bool
    checked_at: float  # Unix seconds of that outcome


class EdgeReachability:
    """Thread-safe: written by the edge calls' worker threads, read by the status server."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._last: EdgeContact | None = None

    def record(self, reachable: bool) -> None:
        contact = EdgeContact(reachable, self._clock())
        with self._lock:
            self._last = contact

    def last(self) -> EdgeContact | None:
        """The last call's outcome; None before the first call."""
        with self._lock:
            return self._last
