"""Retry delays: exponential, capped, with jitter, so that a hall's kiosks (or a province's
terminals after a broker restart) do not all come back in the same second.

The one home of backoff for every part. `jitter` is the fraction of the capped delay that is
random: 0.5 is "equal jitter" (half fixed, half random), 0 makes delays exact for tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s) or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("need 0 < initial_s <= max_s, factor >= 1 and 0 <= jitter <= 1")

    def delay(
        self,
        attempt: int,
        retry_after_s: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Delay before retry number `attempt` (1 = the first retry).

        A server's Retry-After is honoured up to `max_s`: somebody is waiting.
        """
        # Cap the exponent so that a long outage cannot overflow the float.
        cap = min(self.max_s, self.initial_s * self.factor ** min(max(attempt - 1, 0), 64))
        delay = cap * (1 - self.jitter) + rand() * cap * self.jitter
        if retry_after_s is not None and retry_after_s > 0:
            delay = max(delay, min(retry_after_s, self.max_s))
        return delay
