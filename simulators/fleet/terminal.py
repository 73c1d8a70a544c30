"""One virtual terminal: an `AgentCore` with a simulated disk, kiosk and host.

The terminal is the agent without its I/O: what the real agent keeps in its state directory
(the last session_seq, answered commands, jobs) lives in a `Disk` object that survives
`restart()`, so restarts behave as they do on a terminal. Health figures are synthetic but
plausible, from a per-terminal random generator (reproducible with a seed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

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
    SaveJobs,
    Will,
)
from fleet.protocol import (
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
    next_session_seq,
)

ANSWERS_KEPT = 200  # as the agent's default


@dataclass
class Disk:
    """What a terminal's agent keeps across restarts."""

    last_session_seq: int | None = None
    answered: dict[str, AnsweredCommand] = field(default_factory=dict)  # by command id
    jobs: tuple[JobRecord, ...] = ()


class VirtualTerminal:
    def __init__(self, device_id: str, *, site: str = "sim-hall", health_interval_s: float = 30,
                 app_version: str = "2.3.4", seed: int = 0) -> None:
        self.device_id = device_id
        self.identity = Identity(device_id=device_id, site=site, hostname=f"sim-{device_id}",
                                 agent_version="sim", health_interval_s=health_interval_s)
        self.app_version = app_version
        self.disk = Disk()
        self._rand = random.Random(f"{seed}:{device_id}")
        self.core = AgentCore(self.identity)
        self.booted_at: float | None = None
        self.next_health_at = 0.0  # Unix time

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

    def restart(self) -> None:
        """The agent process restarts: a new core from what is on the disk."""
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
            peripherals={
                "card_reader": PeripheralHealth(state=PeripheralState.OK),
                "printer": PeripheralHealth(state=PeripheralState.DEGRADED, code="paper-low",
                                            reason="paper low"),
                "camera": PeripheralHealth(state=PeripheralState.OK),
            },
        )

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
            elif isinstance(e, Publish):
                out.append(e)
        return out
