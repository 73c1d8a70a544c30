"""Retry delays: exponential, capped, with jitter so that a hall's kiosks do not retry in step
when the edge server comes back."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 2.0
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2  # +/- this fraction; 0 makes delays exact (tests)

    def delay(self, attempt: int, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (1 = the first retry).

        The server's Retry-After is honoured up to `max_s`: a citizen is waiting.
        """
        base = min(self.initial_s * self.factor ** max(attempt - 1, 0), self.max_s)
        if self.jitter:
            base *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        if retry_after_s is not None:
            base = max(base, min(retry_after_s, self.max_s))
        return base
