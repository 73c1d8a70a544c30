"""Rejected messages: counted per reason, logged at a bounded rate.

A terminal sending garbage (or a thousand of them after a bad update) must neither flood the
logs nor go unnoticed: every reject is counted (REST `/health`, `ingest.rejected`), and at most
`per_minute` of them a minute are logged, with a summary of the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from common.clock import Monotonic
from fleet.manager.registry import RejectReason

log = logging.getLogger(__name__)


class Rejects:
    def __init__(self, per_minute: int = 20, clock: Monotonic = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._window_start = clock()
        self._logged = 0
        self._suppressed: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {reason.value: self._counts[reason.value] for reason in RejectReason}

    def reject(self, reason: RejectReason, topic: str, detail: str) -> None:
        """Count one rejected message; log it unless this minute's budget is spent."""
        with self._lock:
            self._counts[reason.value] += 1
            now = self._clock()
            if now - self._window_start >= 60:
                if self._suppressed:
                    log.warning("%d more rejected messages in the last minute (%s)",
                                sum(self._suppressed.values()),
                                ", ".join(f"{r}: {n}" for r, n in sorted(self._suppressed.items())))
                self._window_start, self._logged = now, 0
                self._suppressed.clear()
            if self._logged >= self._per_minute:
                self._suppressed[reason.value] += 1
                return
            self._logged += 1
        log.warning("rejected a message on %s (%s): %s", topic, reason.value, detail)
