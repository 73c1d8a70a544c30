"""Ingest counters and latency, shown by GET /api/v1/health (and read by the benchmark)."""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

from fleet.manager.rejects import Rejects


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    index = max(0, math.ceil(p * len(sorted_values)) - 1)
    return sorted_values[min(index, len(sorted_values) - 1)]


class IngestStats:
    """Counters are written by one thread each (network or writer) and only read elsewhere."""

    LATENCY_WINDOW = 10_000

    def __init__(self) -> None:
        self.received = 0
        self.ingested = 0
        self.rejects = Rejects()
        self.batches = 0
        self.presence_accepted = 0
        self.presence_ignored = 0
        self.health_ignored = 0
        self.results_applied = 0
        self.results_ignored = 0
        self.jobs_applied = 0
        self.jobs_ignored = 0
        self.db_errors = 0
        self.first_received_at: float | None = None
        self.last_committed_at: float | None = None
        self._latency_ms: deque[float] = deque(maxlen=self.LATENCY_WINDOW)
        self._lock = threading.Lock()

    @property
    def invalid(self) -> int:
        """Messages acknowledged without being stored, whatever the reason."""
        return self.rejects.total

    def add_latencies(self, values_ms: list[float]) -> None:
        with self._lock:
            self._latency_ms.extend(values_ms)

    def snapshot(self, backlog: int) -> dict[str, Any]:
        with self._lock:
            window = sorted(self._latency_ms)
        return {
            "received": self.received,
            "ingested": self.ingested,
            # Acknowledged without being stored, in total and by reason.
            "invalid": self.rejects.total,
            "rejected": self.rejects.counts(),
            "backlog": backlog,
            "batches": self.batches,
            "presence_accepted": self.presence_accepted,
            "presence_ignored": self.presence_ignored,
            "health_ignored": self.health_ignored,
            "results_applied": self.results_applied,
            "results_ignored": self.results_ignored,
            "jobs_applied": self.jobs_applied,
            "jobs_ignored": self.jobs_ignored,
            "db_errors": self.db_errors,
            "first_received_at": self.first_received_at,
            "last_committed_at": self.last_committed_at,
            # Health messages: sender timestamp to commit, over the last LATENCY_WINDOW of them
            # (includes any clock difference between terminal and manager).
            "health_latency_ms": {
                "window": len(window),
                "p50": percentile(window, 0.50),
                "p99": percentile(window, 0.99),
            },
        }
