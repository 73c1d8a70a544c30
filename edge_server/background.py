"""The edge's background loops, in one place: central probe, purge, the outbox relay and the
card blacklist pull. Each loop runs its blocking work in a worker thread; `stop()` cancels the
loops and returns promptly (a blocking call already in a worker thread finishes on its own,
bounded by its deadline, and its result is dropped). A loop with a `wake` is woken early by it
(the relay, by enqueue and await_delivery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio.to_thread

from edge_server import maintenance
from edge_server.context import EdgeContext
from edge_server.outbox import relay
from edge_server.outbox.runtime import Nudge, runtime
from edge_server.services import blacklist

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Loop:
    """One periodic job: `step` runs in a worker thread, then the loop sleeps `interval(ctx)`
    (or what `step` returns, when it returns a number of seconds)."""

    name: str
    step: Callable[[EdgeContext], float | None]
    interval: Callable[[EdgeContext], float]
    wake: Callable[[EdgeContext], Nudge] | None = None


def _probe_step(ctx: EdgeContext) -> float | None:
    # Keep /health's `central` current without making it wait: probe only when no call has
    # reached (or failed to reach) the platform for a probe interval.
    interval = ctx.settings.central_probe_interval_s
    age = ctx.central.reachability.age_s()
    if age is not None and age < interval:
        return interval - age
    ctx.central.probe()
    return None


def _purge_step(ctx: EdgeContext) -> None:
    maintenance.purge(ctx)


PROBE = Loop("central-probe", _probe_step, lambda ctx: ctx.settings.central_probe_interval_s)
PURGE = Loop("purge", _purge_step, lambda ctx: ctx.settings.purge_interval_s)
RELAY = Loop("outbox-relay", relay.step, lambda ctx: ctx.settings.outbox_poll_interval_s,
             wake=lambda ctx: runtime(ctx).nudge)
BLACKLIST = Loop("card-blacklist", blacklist.sync_step,
                 lambda ctx: ctx.settings.blacklist_interval_s)
DEFAULT_LOOPS: tuple[Loop, ...] = (PROBE, PURGE, RELAY, BLACKLIST)


async def _run(ctx: EdgeContext, loop: Loop) -> None:
    while True:
        delay: float | None = None
        try:
            # abandon_on_cancel: stop() never waits for a blocking step to return.
            delay = await anyio.to_thread.run_sync(loop.step, ctx, abandon_on_cancel=True)
        except Exception:
            log.exception("%s failed; trying again next interval", loop.name)
        pause = loop.interval(ctx) if delay is None else delay
        if loop.wake is None:
            await asyncio.sleep(pause)
        elif pause > 0:
            await loop.wake(ctx).wait(pause)
        else:
            await asyncio.sleep(0)  # more work waiting: let the event loop breathe first


class Background:
    """Starts the loops on the running event loop; `stop()` cancels them all."""

    def __init__(self, ctx: EdgeContext, loops: tuple[Loop, ...] = DEFAULT_LOOPS) -> None:
        self.ctx = ctx
        self.loops = loops
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> list[str]:
        return [t.get_name() for t in self._tasks if not t.done()]

    def start(self) -> None:
        if self._tasks:
            raise RuntimeError("background loops already started")
        self._tasks = [
            asyncio.create_task(_run(self.ctx, loop), name=loop.name) for loop in self.loops
        ]

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        for task in self._tasks:
            task.cancel()
        waiting: Awaitable[object] = asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiting, timeout_s)
        self._tasks = []
