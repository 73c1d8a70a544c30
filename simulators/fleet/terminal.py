"""One virtual terminal: an `AgentCore` with a simulated disk, kiosk and host.

The terminal is the agent without its I/O: what the real agent keeps in its state directory
(the last session_seq, answered commands, jobs) lives in a `Disk` object that survives
`restart()`, so restarts behave as they do on a terminal. Health figures are synthetic but
plausible, from a per-terminal random generator (reproducible with a seed); faults on request
(`FAULTS`: paper out, card reader unplugged) show in them as the kiosk would report them.

The disk also holds the simulated A/B slots and the update runner's durable state
(`simulators.fleet.updates`): `update` and `rollback` jobs are the core's external jobs, handed
to `on_run` (the fleet's worker pool), whose reports come back through `job_progress` and
`job_finished` on the terminal's own thread.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleet.agent.core import (
    AgentCore,
    AnsweredCommand,
    Effect,
    HealthReport,
    Identity,
    JobRecord,
    NeedReport,
    Publish,
    RecordAnswer,
    RunJob,
    SaveJobs,
    Will,
)
from fleet.agent.update.state import UpdateState
from fleet.protocol import (
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
    next_session_seq,
)

ANSWERS_KEPT = 200  # as the agent's default
PAPER_OUT = "paper-out"
READER_UNPLUGGED = "reader-unplugged"
FAULTS = (PAPER_OUT, READER_UNPLUGGED)
MODELS = ("KX-100", "KX-200")


@dataclass
class Disk:
    """What a terminal's agent keeps across restarts, and its two release slots."""

    last_session_seq: int | None = None
    answered: dict[str, AnsweredCommand] = field(default_factory=dict)  # by command id
    jobs: tuple[JobRecord, ...] = ()
    slots: dict[str, str | None] = field(default_factory=lambda: {"a": None, "b": None})
    current: str = "a"
    update: UpdateState | None = None  # the update runner's update.json

    def other(self) -> str:
        return "b" if self.current == "a" else "a"

    def running(self) -> str | None:
        return self.slots.get(self.current)


RunHook = Callable[["VirtualTerminal", JobRecord], None]


class VirtualTerminal:
    def __init__(self, device_id: str, *, site: str = "sim-hall", health_interval_s: float = 30,
                 app_version: str = "2.3.4", seed: int = 0, model: str = MODELS[0]) -> None:
        self.device_id = device_id
        self.identity = Identity(device_id=device_id, site=site, hostname=f"sim-{device_id}",
                                 agent_version="sim", health_interval_s=health_interval_s)
        self.model = model  # the hardware: a release may be healthy on one model, not another
        self.disk = Disk()
        self.disk.slots["a"] = app_version
        self._rand = random.Random(f"{seed}:{device_id}")
        self.core = AgentCore(self.identity)
        self.booted_at: float | None = None
        self.next_health_at = 0.0  # Unix time
        self.faults: set[str] = set()
        self.session_active = False  # a citizen at the kiosk holds the update lock
        self.crash_at: str | None = None  # the agent dies when an update enters this phase
        self.on_run: RunHook | None = None
        # One agent process's life: a restart stops its job worker and ignores its reports.
        self.generation = 0
        self.job_stop = threading.Event()
        self.update_lock = threading.Lock()

    @property
    def app_version(self) -> str:
        """What the current slot holds: what the kiosk reports running."""
        return self.disk.running() or "0"

    # -- what the shell of the real agent does, in memory -----------------------------------

    def connecting(self, now: datetime) -> Will:
        seq = next_session_seq(self.disk.last_session_seq, int(now.timestamp() * 1000))
        self.disk.last_session_seq = seq
        if self.booted_at is None:
            self.booted_at = now.timestamp()
        return self.core.connecting(seq)

    def connected(self, now: datetime) -> list[Publish]:
        self.next_health_at = now.timestamp()  # right after the birth, as the agent does
        return self._keep(self.core.connected(self.app_version, now))

    def disconnected(self) -> None:
        self.core.disconnected()

    def health_due(self, now: datetime) -> list[Publish]:
        if now.timestamp() < self.next_health_at:
            return []
        self.next_health_at = now.timestamp() + self.identity.health_interval_s
        return self._keep(self.core.health_due(self.report(now), now))

    def command(self, payload: bytes, now: datetime) -> list[Publish]:
        effects = self.core.command(payload, now, self.disk.answered.get)
        if any(isinstance(e, NeedReport) for e in effects):
            effects = self.core.command(payload, now, self.disk.answered.get, self.report(now))
        return self._keep(effects)

    def jobs_due(self, now: datetime) -> list[Publish]:
        return self._keep(self.core.jobs_due(now))

    def stopping(self, now: datetime) -> list[Publish]:
        return self._keep(self.core.stopping(now))

    def job_progress(self, job_id: str, now: datetime, *, progress: float,
                     output: dict[str, Any]) -> list[Publish]:
        return self._keep(self.core.job_progress(job_id, now, progress=progress, output=output))

    def job_finished(self, job_id: str, now: datetime, *, error: str,
                     output: dict[str, Any]) -> list[Publish]:
        return self._keep(self.core.job_finished(job_id, now, error=error, output=output))

    def restart(self) -> None:
        """The agent process restarts: a new core from what is on the disk (its job worker
        stops; the new core hands a running update out again)."""
        self.job_stop.set()
        self.job_stop = threading.Event()
        self.generation += 1
        self.core = AgentCore(self.identity, jobs=self.disk.jobs)

    # -- the simulated host --------------------------------------------------------------------

    def report(self, now: datetime) -> HealthReport:
        r = self._rand
        uptime = max(0.0, now.timestamp() - (self.booted_at or now.timestamp()))
        return HealthReport(
            app_version=self.app_version,
            system=SystemHealth(cpu_percent=round(r.uniform(1, 30), 1),
                                memory_percent=round(r.uniform(20, 60), 1),
                                disk_percent=round(r.uniform(10, 50), 1), uptime_s=uptime),
            kiosk=KioskHealth(reachable=True, screen="attract", session_active=False,
                              app_version=self.app_version),
            peripherals=self.peripherals(),
        )

    def peripherals(self) -> dict[str, PeripheralHealth]:
        reader = PeripheralHealth(state=PeripheralState.OK)
        if READER_UNPLUGGED in self.faults:
            reader = PeripheralHealth(state=PeripheralState.MISSING, code="missing",
                                      reason="card reader not connected")
        printer = PeripheralHealth(state=PeripheralState.DEGRADED, code="paper-low",
                                   reason="paper low")
        if PAPER_OUT in self.faults:
            printer = PeripheralHealth(state=PeripheralState.DEGRADED, code=PAPER_OUT,
                                       reason="out of paper")
        return {"card_reader": reader, "printer": printer,
                "camera": PeripheralHealth(state=PeripheralState.OK)}

    def baseline(self) -> dict[str, Any]:
        """What answers before a switch (the health gate's baseline, as the real runner's)."""
        answering = sorted(n for n, p in self.peripherals().items()
                           if p.state is not PeripheralState.MISSING)
        return {"peripherals": answering, "edge": None}

    def _keep(self, effects: list[Effect]) -> list[Publish]:
        """Apply what goes to the disk; return what goes to the broker."""
        out: list[Publish] = []
        for e in effects:
            if isinstance(e, RecordAnswer):
                self.disk.answered[e.command_id] = e.answer
                while len(self.disk.answered) > ANSWERS_KEPT:
                    del self.disk.answered[next(iter(self.disk.answered))]
            elif isinstance(e, SaveJobs):
                self.disk.jobs = e.jobs
            elif isinstance(e, RunJob) and self.on_run is not None:
                self.on_run(self, e.job)  # after the SaveJobs that made it running
            elif isinstance(e, Publish):
                out.append(e)
        return out
