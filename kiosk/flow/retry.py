"""The one retry policy of a user action: the edge client tries once per call, the flow
retries here, with the same effect (and so the same Idempotency-Key) every time."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from common.backoff import Backoff
from kiosk.flow.effects import Request
from kiosk.flow.ports import Cancellable


@dataclass
class Pending:
    """The edge request in progress. Holds the citizen's credential only while identifying."""

    effect: Request = field(repr=False)
    retries: int = 0
    timer: Cancellable | None = None

    @property
    def request(self) -> int:
        return self.effect.request

    @property
    def kind(self) -> str:
        return self.effect.kind

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None


@dataclass(frozen=True)
class RetryPolicy:
    # Equal-ish jitter: delays spread over [80 %, 100 %] of the capped value, so that a hall's
    # kiosks do not retry in step when the edge comes back.
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=2.0, max_s=30.0,
                                                            jitter=0.2))
    # Retries of one request before the citizen is told to come back later (2+4+8+16+30 s of
    # waiting with the default backoff): "please wait, do not pull the card" must not last
    # for ever while identifying, where no idle timeout runs.
    max_retries: int = 5

    def next_delay(
        self, retries_so_far: int, retry_after_s: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds before the next retry, or None when the retries have run out."""
        if retries_so_far >= self.max_retries:
            return None
        return self.backoff.delay(retries_so_far + 1, retry_after_s, rand)
