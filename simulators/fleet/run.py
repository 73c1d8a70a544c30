"""Running a `BrokerFleet` for a while, with misbehaviours at a given moment (the CLI's body).

Faults that concern terminals rather than messages are chosen by a *pick*: a count ("20"), a
fraction of the fleet ("5%") or device ids ("SIM-00003,SIM-00017"). Those of the update runner
(a crash in a phase, bad releases, bad hardware) hold from the start; peripheral faults and
link flapping begin at `after_s`, with the other misbehaviours.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.clock import utc_now
from simulators.fleet import misbehaviour
from simulators.fleet.broker_fleet import BrokerFleet
from simulators.fleet.terminal import MODELS, PAPER_OUT, READER_UNPLUGGED
from simulators.fleet.updates import CRASH_PHASES, ReleaseHealth, UpdateConfig

HUGE_SESSION_SEQ = 2**52
MAX_FLAPS = 1000


def pick(spec: str, ids: Sequence[str], rand: random.Random) -> list[str]:
    """The terminals a pick names (see the module doc); ValueError when it is not one."""
    spec = spec.strip()
    if not spec or spec == "0":
        return []
    if spec.endswith("%"):
        share = float(spec[:-1])
        if not 0 <= share <= 100:
            raise ValueError(f"{spec!r}: a fraction is 0% to 100%")
        return rand.sample(list(ids), round(len(ids) * share / 100))
    if spec.isdigit():
        return rand.sample(list(ids), min(int(spec), len(ids)))
    named = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = sorted(set(named) - set(ids))
    if unknown:
        raise ValueError(f"no such terminal(s): {', '.join(unknown[:5])}")
    return named


@dataclass(frozen=True)
class Misbehaviours:
    after_s: float = 5.0
    kill: int = 0
    late_wills: int = 0
    forged_deaths: int = 0
    forged_healths: int = 0
    out_of_range: tuple[str, ...] = ()
    ghosts: int = 0
    # Terminal faults (picks).
    paper_out: str = "0"
    reader_unplugged: str = "0"
    flapping: str = "0"
    flaps: int = 3  # drops per flapping terminal, `flap_every_s` apart
    flap_every_s: float = 5.0
    flap_down_s: float = 1.0
    crash_in_update: str = "0"
    crash_phase: str = "install"
    bad_releases: tuple[str, ...] = ()
    bad_on_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.crash_phase not in CRASH_PHASES:
            raise ValueError(f"crash_phase must be one of {sorted(CRASH_PHASES)}")
        if not 0 <= self.flaps <= MAX_FLAPS:
            raise ValueError(f"flaps must be 0 to {MAX_FLAPS}")

    @property
    def release_health(self) -> ReleaseHealth:
        return ReleaseHealth(frozenset(self.bad_releases), frozenset(self.bad_on_models))


def arm(fleet: BrokerFleet, m: Misbehaviours, rand: random.Random) -> dict[str, int]:
    """The update faults, before the fleet starts."""
    crashing = pick(m.crash_in_update, list(fleet.terminals), rand)
    for device_id in crashing:
        fleet.terminals[device_id].crash_at = m.crash_phase
    return {"crash_in_update": len(crashing)}


def misbehave(fleet: BrokerFleet, m: Misbehaviours, rand: random.Random) -> dict[str, int]:
    ids = list(fleet.terminals)
    now = utc_now()
    paper_out = pick(m.paper_out, ids, rand)
    unplugged = pick(m.reader_unplugged, ids, rand)
    flapping = pick(m.flapping, ids, rand)
    fleet.set_fault(paper_out, PAPER_OUT)
    fleet.set_fault(unplugged, READER_UNPLUGGED)
    sample = lambda n: rand.sample(ids, min(n, len(ids)))  # noqa: E731
    for device_id in sample(m.late_wills):
        t = fleet.terminals[device_id]
        old = t.core.session_seq or 1
        fleet.restart([device_id])
        # Sent after the new birth on the same (home) thread's queue: a late Will of `old`.
        fleet.inject(device_id, [misbehaviour.late_will(t, old, now)])
    fleet.restart(sample(m.kill))
    for device_id in sample(m.forged_deaths):
        fleet.inject(device_id, [misbehaviour.forged_death(fleet.terminals[device_id],
                                                           HUGE_SESSION_SEQ, now)])
    for device_id in sample(m.forged_healths):
        fleet.inject(device_id, [misbehaviour.forged_health(fleet.terminals[device_id],
                                                            HUGE_SESSION_SEQ, now)])
    for field in m.out_of_range:
        for device_id in ids:
            fleet.inject(device_id, [misbehaviour.out_of_range(fleet.terminals[device_id],
                                                               field, now)])
    if m.ghosts:
        fleet.inject(ids[0], misbehaviour.ghost_births(m.ghosts, now))
    if flapping and m.flaps:
        threading.Thread(target=_flap, args=(fleet, flapping, m), name="sim-flapping",
                         daemon=True).start()
    return {"late_wills": m.late_wills, "killed": m.kill, "forged_deaths": m.forged_deaths,
            "forged_healths": m.forged_healths, "ghosts": m.ghosts,
            "out_of_range": len(m.out_of_range) * len(ids), "paper_out": len(paper_out),
            "reader_unplugged": len(unplugged), "flapping": len(flapping)}


def _flap(fleet: BrokerFleet, ids: list[str], m: Misbehaviours) -> None:
    for n in range(m.flaps):
        if n and fleet.stopped.wait(m.flap_every_s):
            return
        fleet.flap(ids, m.flap_down_s)


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
    updates: UpdateConfig | None = None,
    app_version: str = "2.3.4",
    models: Sequence[str] = MODELS,
) -> dict[str, object]:
    parts = urlsplit(broker_url)
    fleet = BrokerFleet(parts.hostname or "127.0.0.1", parts.port or 1883, terminals,
                        loops=loops, prefix=prefix, health_interval_s=health_interval_s,
                        seed=seed, app_version=app_version, models=models, updates=updates,
                        release_health=misbehaviours.release_health)
    armed = arm(fleet, misbehaviours, random.Random(seed))
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
            **fleet.counters, "misbehaviours": {**armed, **sent}}
