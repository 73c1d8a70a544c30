"""The edge's outbox: every submission a citizen makes reaches central exactly once, in order
(docs/outbox.md). `store` holds the rows (enqueue in the caller's transaction, views, dead
letters and their retry), `relay` sends them, `runtime` is the in-process wake-up, delivery
condition and counters."""

from __future__ import annotations

from common.clock import Deadline
from edge_server.context import EdgeContext
from edge_server.outbox.errors import DuplicateClaim, NotRetryable, OutboxFull
from edge_server.outbox.runtime import runtime
from edge_server.outbox.store import (
    DeadLetter,
    OutboxItemView,
    OutboxStats,
    dead_letters,
    enqueue,
    item_view,
    pending_for_citizen,
    recent_stats,
    retry,
    stats,
)

# A relay in another process (PostgreSQL, several edges) does not notify this one: look again
# at least this often while waiting.
_RECHECK_S = 0.25


def await_delivery(ctx: EdgeContext, receipt_no: str, timeout_s: float) -> OutboxItemView:
    """Nudge the relay and wait, at most `timeout_s`, until the item is sent or refused; its
    view then (still "queued" after the timeout)."""
    rt = runtime(ctx)
    rt.nudge.set()
    deadline = Deadline(max(timeout_s, 0.0))
    while True:
        with rt.delivered:
            generation = rt.generation
        found = item_view(ctx, receipt_no)
        if found is None:
            raise LookupError("no outbox item has this receipt number")
        if found.state != "queued" or deadline.expired:
            return found
        with rt.delivered:
            if rt.generation == generation:
                rt.delivered.wait(min(deadline.remaining(), _RECHECK_S))


__all__ = [
    "DeadLetter",
    "DuplicateClaim",
    "NotRetryable",
    "OutboxFull",
    "OutboxItemView",
    "OutboxStats",
    "await_delivery",
    "dead_letters",
    "enqueue",
    "item_view",
    "pending_for_citizen",
    "recent_stats",
    "retry",
    "stats",
]
