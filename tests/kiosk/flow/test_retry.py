"""The one retry policy of a user action (kiosk.flow.retry)."""

from __future__ import annotations

from common.backoff import Backoff
from kiosk.edge.models import Credential
from kiosk.flow.effects import OpenSession
from kiosk.flow.retry import Pending, RetryPolicy


def test_delays_grow_are_capped_and_run_out() -> None:
    policy = RetryPolicy(backoff=Backoff(initial_s=2, max_s=30, jitter=0), max_retries=5)
    assert [policy.next_delay(n) for n in range(6)] == [2, 4, 8, 16, 30, None]


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff=Backoff(initial_s=2, max_s=30, jitter=0))
    assert policy.next_delay(0, retry_after_s=10) == 10
    assert policy.next_delay(0, retry_after_s=600) == 30


def test_the_default_jitter_stays_within_a_fifth_of_the_delay() -> None:
    policy = RetryPolicy()
    assert policy.next_delay(0, rand=lambda: 0.0) == 1.6
    assert policy.next_delay(0, rand=lambda: 1.0) == 2.0


def test_a_pending_request_keeps_its_effect_and_cancels_its_timer() -> None:
    class Timer:
        cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    effect = OpenSession(1, "key-1", "card", Credential("card", {"citizen_id": "x"}))
    timer = Timer()
    pending = Pending(effect, timer=timer)
    assert (pending.request, pending.kind) == (1, "open")
    pending.cancel()
    assert timer.cancelled and pending.timer is None
    assert "citizen_id" not in repr(pending) or "x" not in repr(pending.effect)
