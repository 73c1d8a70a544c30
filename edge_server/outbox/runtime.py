"""The outbox's in-process state: the relay's wake-up call, the delivery condition that
`await_delivery` waits on, and the counters /metrics shows.

One per EdgeContext (`ctx.outbox`; several edge apps share a process in tests). This module
imports nothing of ours, so that the context can hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


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
        # The relay's own state (relay.RelayState), made by the relay on its first step.
        self.relay_state: Any = None
        # Set when central answers again after an outage: the relay stops backing off.
        self.recovered = threading.Event()

    def central_recovered(self) -> None:
        self.recovered.set()
        self.nudge.set()

    def notify_delivered(self) -> None:
        with self.delivered:
            self.generation += 1
            self.delivered.notify_all()


def runtime(ctx: Any) -> OutboxRuntime:
    """The context's outbox runtime (`ctx.outbox`)."""
    found: OutboxRuntime = ctx.outbox
    return found
