"""Running a `BrokerFleet` for a while, with misbehaviours at a given moment (the CLI's body)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.clock import utc_now
from simulators.fleet import misbehaviour
from simulators.fleet.broker_fleet import BrokerFleet

HUGE_SESSION_SEQ = 2**52


@dataclass(frozen=True)
class Misbehaviours:
    after_s: float = 5.0
    kill: int = 0
    late_wills: int = 0
    forged_deaths: int = 0
    forged_healths: int = 0
    out_of_range: tuple[str, ...] = ()
    ghosts: int = 0


def misbehave(fleet: BrokerFleet, m: Misbehaviours, rand: random.Random) -> dict[str, int]:
    ids = list(fleet.terminals)
    now = utc_now()
    pick = lambda n: rand.sample(ids, min(n, len(ids)))  # noqa: E731
    for device_id in pick(m.late_wills):
        t = fleet.terminals[device_id]
        old = t.core.session_seq or 1
        fleet.restart([device_id])
        # Sent after the new birth on the same (home) thread's queue: a late Will of `old`.
        fleet.inject(device_id, [misbehaviour.late_will(t, old, now)])
    fleet.restart(pick(m.kill))
    for device_id in pick(m.forged_deaths):
        fleet.inject(device_id, [misbehaviour.forged_death(fleet.terminals[device_id],
                                                           HUGE_SESSION_SEQ, now)])
    for device_id in pick(m.forged_healths):
        fleet.inject(device_id, [misbehaviour.forged_health(fleet.terminals[device_id],
                                                            HUGE_SESSION_SEQ, now)])
    for field in m.out_of_range:
        for device_id in ids:
            fleet.inject(device_id, [misbehaviour.out_of_range(fleet.terminals[device_id],
                                                               field, now)])
    if m.ghosts:
        fleet.inject(ids[0], misbehaviour.ghost_births(m.ghosts, now))
    return {"late_wills": m.late_wills, "killed": m.kill, "forged_deaths": m.forged_deaths,
            "forged_healths": m.forged_healths, "ghosts": m.ghosts,
            "out_of_range": len(m.out_of_range) * len(ids)}


def _wait(stop: threading.Event, seconds: float | None) -> bool:
    """`stop.wait(seconds)` in short slices: a signal the kernel hands to another thread does
    not interrupt a long wait, so the main thread must look up often enough to run its handler.
    True when `stop` was set."""
    end = None if seconds is None else time.monotonic() + seconds
    while not stop.is_set():
        left = 0.5 if end is None else min(0.5, end - time.monotonic())
        if left <= 0:
            return False
        stop.wait(left)
    return True


def run_fleet(
    broker_url: str,
    terminals: int,
    *,
    loops: int,
    prefix: str,
    health_interval_s: float,
    duration_s: float | None,
    seed: int,
    stop: threading.Event,
    misbehaviours: Misbehaviours,
) -> dict[str, object]:
    parts = urlsplit(broker_url)
    fleet = BrokerFleet(parts.hostname or "127.0.0.1", parts.port or 1883, terminals,
                        loops=loops, prefix=prefix, health_interval_s=health_interval_s,
                        seed=seed)
    started = time.monotonic()
    fleet.start()
    try:
        online = fleet.wait(lambda c: c["online"] >= terminals, 120)
        connect_s = time.monotonic() - started
        sent: dict[str, int] = {}
        if not _wait(stop, misbehaviours.after_s):
            sent = misbehave(fleet, misbehaviours, random.Random(seed))
        end = None if duration_s is None else started + duration_s
        _wait(stop, None if end is None else max(0.0, end - time.monotonic()))
    finally:
        # Ctrl-C (KeyboardInterrupt in one of the waits) still disconnects every terminal.
        fleet.stop()
    return {"terminals": terminals, "all_online": online, "connect_s": round(connect_s, 2),
            **fleet.counters, "misbehaviours": sent}
