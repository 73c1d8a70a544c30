"""The outbox's in-process state: the relay's wake-up call, the delivery condition that
`await_delivery` waits on, and the counters /metrics shows.

One per EdgeContext (several edge apps share a process in tests). It is attached to the context
lazily (`runtime(ctx)`) so the context needs no outbox import.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

_ATTR = "_outbox_runtime"
_attach_lock = threading.Lock()


class Nudge:
    """A wake-up call from any thread to one async waiter: `set()` from a worker thread makes
    `await wait(timeout)` return early (True) instead of sleeping out its timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flag = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout_s: float) -> bool:
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._flag:
                self._flag = False
                return True
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(event.wait(), max(timeout_s, 0.0))
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.remove(entry)
                self._flag = False


class Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        return self._value


class OutboxRuntime:
    def __init__(self) -> None:
        self.nudge = Nudge()
        # Bumped and notified after every transaction that makes items final.
        self.delivered = threading.Condition()
        self.generation = 0
        self.full_total = Counter()
        self.sent_total = Counter()
        self.dead_total = Counter()
        self.bad_results_total = Counter()
        # The last stats() and when (monotonic): /health reads it without a query.
        self.snapshot: tuple[float, Any] | None = None

    def notify_delivered(self) -> None:
        with self.delivered:
            self.generation += 1
            self.delivered.notify_all()


def runtime(ctx: Any) -> OutboxRuntime:
    found: OutboxRuntime | None = ctx.__dict__.get(_ATTR)
    if found is None:
        with _attach_lock:
            found = ctx.__dict__.setdefault(_ATTR, OutboxRuntime())
    assert found is not None
    return found
