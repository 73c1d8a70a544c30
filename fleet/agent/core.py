"""`AgentCore`: the agent's session rules with no I/O (house style 9, after h11 and mqttproto).

Inputs are method calls (`connecting`, `connected`, `disconnected`, `health_due`, `command`,
`jobs_due`, `job_progress`, `job_finished`, `stopping`); outputs are frozen data (`Publish`,
`Will`, `RecordAnswer`, `SaveJobs`, `NeedReport`, `RunJob`, `ConfigChanged`) that a shell
carries out. The core
reads no clock (`now` is passed in), touches no file, takes no lock and never blocks: the agent
(`fleet.agent.service`) and the fleet simulator (`simulators.fleet`) drive the same core, the one
over a real MQTT client, the other for thousands of terminals at once. Calls must be serialised
by the shell.

The rules (docs/contracts/fleet-mqtt.md):
- presence: each connection gets a new, higher `session_seq` (chosen and persisted by the shell)
  with a Will carrying it; after the connection is up, a birth with the same number; health
  `seq` counts from 1 within the session; a death on a clean shutdown;
- commands: answered once, recorded before the answer goes out, repeated from the record on a
  redelivery; `rejected` when addressed to another device or with bad arguments, `expired` when
  late, `unknown-command` when no handler is registered;
- jobs: a job command's id is the job's id; its state is handed to the shell to keep after every
  change, resumed after a restart, and republished after every birth. An external job (an
  update) is worked on by the shell (`RunJob`, handed out when it starts and again after every
  restart of the core while it runs), which reports back (`job_progress`, `job_finished`); the
  core keeps, publishes and republishes it like any other job. External jobs run one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fleet.agent.commands import COMMANDS, CommandHandler, external_job_handler, job_handler
from fleet.agent.commands.base import (
    Answer,
    BadArgs,
    BirthNow,
    CancelJob,
    HealthNow,
    Outcome,
    StartJob,
)
from fleet.agent.commands.set_config import ConfigChange, RunningConfig
from fleet.agent.records import AnsweredCommand, JobRecord
from fleet.protocol.codec import ProtocolError, decode, encode
from fleet.protocol.messages import (
    Birth,
    Command,
    CommandResult,
    CommandStatus,
    Death,
    DeathReason,
    EdgeHealth,
    Health,
    JobState,
    JobUpdate,
    KioskHealth,
    MaintenanceHealth,
    OutboxHealth,
    Payload,
    PeripheralHealth,
    SystemHealth,
)
from fleet.protocol.topics import Channel, device_topic

log = logging.getLogger(__name__)

# The records the core hands out, importable from here by the core's users (the simulator).
__all__ = [
    "AgentCore", "AnsweredCommand", "ConfigChanged", "Effect", "HealthReport", "Identity",
    "JobRecord", "NeedReport", "Publish", "RecordAnswer", "RunJob", "RunningConfig", "SaveJobs",
    "Will",
]

#: How long an answered command's record outlives the command's expiry (clock skew between
#: manager and terminal, a manager retrying late); after it a redelivery is answered `expired`.
RECORD_MARGIN_S = 3600.0
#: Jobs that may be queued or running at once; more are refused.
MAX_ACTIVE_JOBS = 4
#: Finished jobs kept (for republishing after a birth and answering a late cancel).
MAX_FINISHED_JOBS = 50
FINISHED_JOB_KEEP_S = 24 * 3600.0
#: A running job's progress is published (and saved) when it moved by at least this much.
PROGRESS_STEP = 0.1


# -- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 1
    message: Payload | None = field(default=None, compare=False)  # what was encoded (for logs)


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1


@dataclass(frozen=True)
class RecordAnswer:
    """Keep this answer (before publishing the result that follows it in the same output)."""

    command_id: str
    answer: AnsweredCommand


@dataclass(frozen=True)
class SaveJobs:
    """Keep these jobs, replacing every job kept before."""

    jobs: tuple[JobRecord, ...]


@dataclass(frozen=True)
class NeedReport:
    """Call `command` again with a health report: this command publishes health."""


@dataclass(frozen=True)
class RunJob:
    """Work on this external job (from where its own durable state left it) and report back
    with `job_progress` and `job_finished`. Comes after the `SaveJobs` that made it running."""

    job: JobRecord


@dataclass(frozen=True)
class ConfigChanged:
    """Keep this configuration (before the result that follows it), then apply its values."""

    config: RunningConfig


Effect = Publish | RecordAnswer | SaveJobs | NeedReport | RunJob | ConfigChanged


@dataclass(frozen=True)
class Identity:
    device_id: str
    site: str
    hostname: str
    agent_version: str
    health_interval_s: float


@dataclass(frozen=True)
class HealthReport:
    """What the shell collected for one health message."""

    app_version: str
    system: SystemHealth
    kiosk: KioskHealth
    peripherals: Mapping[str, PeripheralHealth]
    edge: EdgeHealth | None = None  # None: this agent does not read an edge
    temperature_c: float | None = None  # None: no thermal zone to read
    edge_reachable: bool | None = None  # the kiosk's view; None when it does not say
    outbox: OutboxHealth | None = None
    maintenance: MaintenanceHealth | None = None


AnsweredLookup = Callable[[str], AnsweredCommand | None]


class AgentCore:
    def __init__(
        self,
        identity: Identity,
        *,
        jobs: Iterable[JobRecord] = (),
        handlers: Mapping[str, CommandHandler] = COMMANDS,
        config: RunningConfig | None = None,
    ) -> None:
        self.identity = identity
        self.handlers = handlers
        # The configuration running (set-config); by default the provisioned interval only.
        self.config = config if config is not None else RunningConfig(
            defaults={"health_interval_s": identity.health_interval_s})
        self.session_seq: int | None = None
        self.born = False  # the birth of `session_seq` has been handed out
        self.health_seq = 0
        self.jobs: dict[str, JobRecord] = {j.job_id: j for j in jobs}
        self._last_tick: float | None = None  # Unix time of the last `jobs_due`
        # External jobs handed to the shell by this core (a new core hands running ones out again).
        self._handed_out: set[str] = set()

    def _topic(self, channel: Channel) -> str:
        return device_topic(self.identity.device_id, channel)

    def _publish(self, channel: Channel, message: Payload) -> Publish:
        return Publish(self._topic(channel), encode(message), 1, message)

    # -- presence -------------------------------------------------------------------------------

    def connecting(self, session_seq: int) -> Will:
        """A connection attempt with a new (already persisted) `session_seq`: its Will."""
        if self.session_seq is not None and session_seq <= self.session_seq:
            raise ValueError("session_seq must rise with every connection")
        self.session_seq = session_seq
        self.born = False
        self.health_seq = 0
        death = Death(device_id=self.identity.device_id, session_seq=session_seq,
                      reason=DeathReason.WILL)
        return Will(self._topic(Channel.DEATH), encode(death), 1)

    def connected(self, app_version: str, now: datetime) -> list[Effect]:
        """The connection is up (subscriptions granted): the birth, then every job's state."""
        if self.session_seq is None:
            return []
        self.born = True
        return [self._birth(app_version, now),
                *(self._job_update(j, now) for j in self.jobs.values())]

    def _birth(self, app_version: str, now: datetime) -> Publish:
        assert self.session_seq is not None
        ident = self.identity
        birth = Birth(
            device_id=ident.device_id, ts=now, session_seq=self.session_seq,
            app_version=app_version, agent_version=ident.agent_version, site=ident.site,
            hostname=ident.hostname, health_interval_s=self.health_interval_s,
            commands=sorted(self.handlers), config=self.config.report(),
        )
        return self._publish(Channel.BIRTH, birth)

    def disconnected(self) -> None:
        self.born = False

    @property
    def health_interval_s(self) -> float:
        """The interval running: the desired one if set, else the provisioned one."""
        return float(self.config.values.get("health_interval_s", self.identity.health_interval_s))

    @property
    def online(self) -> bool:
        return self.born and self.session_seq is not None

    def stopping(self, now: datetime) -> list[Effect]:
        """A clean shutdown: the death to publish (none if we never were online)."""
        if not self.online:
            return []
        assert self.session_seq is not None
        death = Death(device_id=self.identity.device_id, ts=now, session_seq=self.session_seq,
                      reason=DeathReason.SHUTDOWN)
        self.born = False
        return [self._publish(Channel.DEATH, death)]

    # -- health ---------------------------------------------------------------------------------

    def health_due(self, report: HealthReport, now: datetime) -> list[Effect]:
        """One health message, or nothing while offline (a stale one would be worth nothing)."""
        if not self.online:
            return []
        assert self.session_seq is not None
        self.health_seq += 1
        health = Health(
            device_id=self.identity.device_id, ts=now, session_seq=self.session_seq,
            seq=self.health_seq, app_version=report.app_version, system=report.system,
            kiosk=report.kiosk, peripherals=dict(report.peripherals), edge=report.edge,
            temperature_c=report.temperature_c, edge_reachable=report.edge_reachable,
            outbox=report.outbox, maintenance=report.maintenance,
        )
        return [self._publish(Channel.HEALTH, health)]

    # -- commands -------------------------------------------------------------------------------

    def command(
        self,
        payload: bytes,
        now: datetime,
        answered: AnsweredLookup,
        report: HealthReport | None = None,
    ) -> list[Effect]:
        """A message on our command topic: what to record and publish in answer."""
        try:
            command = decode(payload, Command)
        except ProtocolError as exc:
            log.warning("dropping a command: %s", exc)
            return []
        assert isinstance(command, Command)
        previous = answered(command.id)
        if previous is not None:
            log.info("command %s (%s) already answered; repeating the answer", command.id,
                     command.name)
            return [self._result(command.id, CommandStatus(previous.status), previous.output,
                                 now)]
        effects: list[Effect] = []
        if command.device_id != self.identity.device_id:
            answer = Answer(CommandStatus.REJECTED, {"error": "addressed to another device"})
        elif command.expired(now):
            answer = Answer(CommandStatus.EXPIRED)
        elif command.id in self.jobs:  # its answer record aged out; the job did not
            answer = Answer(CommandStatus.OK, self._job_ack(self.jobs[command.id]))
        elif command.name not in self.handlers:
            answer = Answer(CommandStatus.UNKNOWN_COMMAND, {"known": sorted(self.handlers)})
        else:
            outcome = self._run(command, now, report)
            if isinstance(outcome, NeedReport):
                return [outcome]
            answer, effects = outcome
        log.info("command %s (%s): %s", command.id, command.name, answer.status.value)
        keep_until = max(command.expires_at, now).timestamp() + RECORD_MARGIN_S
        record = AnsweredCommand(answer.status.value, answer.output, keep_until)
        # Recorded before it is sent: after a crash in between, the redelivered command is
        # answered from the record, not run again.
        return [*effects, RecordAnswer(command.id, record),
                self._result(command.id, answer.status, answer.output, now)]

    def _run(
        self, command: Command, now: datetime, report: HealthReport | None
    ) -> tuple[Answer, list[Effect]] | NeedReport:
        handler = self.handlers[command.name]
        try:
            outcome = handler.run(command, now)
        except BadArgs as exc:
            return Answer(CommandStatus.REJECTED, {"error": str(exc)}), []
        except Exception as exc:  # a handler bug must not take the terminal off the fleet
            log.exception("command %s (%s) failed", command.id, command.name)
            return Answer(CommandStatus.ERROR, {"error": type(exc).__name__}), []
        return self._carry_out(command, outcome, now, report)

    def _carry_out(
        self, command: Command, outcome: Outcome, now: datetime, report: HealthReport | None
    ) -> tuple[Answer, list[Effect]] | NeedReport:
        match outcome:
            case Answer():
                return outcome, []
            case HealthNow():
                return self._health_now(report, now)
            case BirthNow():  # needs the report too: the birth carries the kiosk's app version
                return self._birth_now(report, now)
            case StartJob():
                return self._start_job(command, outcome, now)
            case ConfigChange():
                return self._set_config(outcome)
        return self._cancel_job(outcome, now)

    def _set_config(self, change: ConfigChange) -> tuple[Answer, list[Effect]]:
        """A newer revision replaces the desired values whole (a key no longer desired goes
        back to its provisioned value); an older or the same one changes nothing."""
        running = self.config
        if change.revision <= running.revision:
            return Answer(CommandStatus.OK, {
                "config": running.report_json(), "applied": {}, "refused": change.refused,
                "ignored": f"revision {change.revision} is not newer than {running.revision}",
            }), []
        self.config = replace(running, revision=change.revision, desired=dict(change.accepted))
        applied = self.config.report_json()["values"]
        return Answer(CommandStatus.OK, {
            "config": self.config.report_json(),
            "applied": {k: applied[k] for k in change.accepted if k in applied},
            "refused": change.refused,
        }), [ConfigChanged(self.config)]

    def _health_now(
        self, report: HealthReport | None, now: datetime
    ) -> tuple[Answer, list[Effect]] | NeedReport:
        if report is None:
            return NeedReport()
        health = self.health_due(report, now)
        if not health:
            return Answer(CommandStatus.ERROR, {"error": "health could not be published"}), []
        return Answer(CommandStatus.OK, {"health_seq": self.health_seq}), list(health)

    def _birth_now(
        self, report: HealthReport | None, now: datetime
    ) -> tuple[Answer, list[Effect]] | NeedReport:
        if report is None:
            return NeedReport()
        if not self.online:
            return Answer(CommandStatus.ERROR, {"error": "not connected"}), []
        return (Answer(CommandStatus.OK, {"session_seq": self.session_seq}),
                [self._birth(report.app_version, now)])

    def _result(
        self, command_id: str, status: CommandStatus, output: dict[str, object], now: datetime
    ) -> Publish:
        result = CommandResult(device_id=self.identity.device_id, ts=now, id=command_id,
                               status=status, output=output)
        return self._publish(Channel.COMMAND_RESULT, result)

    # -- jobs -----------------------------------------------------------------------------------

    @property
    def active_jobs(self) -> list[JobRecord]:
        return [j for j in self.jobs.values() if not j.state.final]

    @staticmethod
    def _job_ack(job: JobRecord) -> dict[str, object]:
        return {"job_id": job.job_id, "state": job.state.value}

    def _start_job(
        self, command: Command, start: StartJob, now: datetime
    ) -> tuple[Answer, list[Effect]]:
        if len(self.active_jobs) >= MAX_ACTIVE_JOBS:
            return Answer(CommandStatus.REJECTED,
                          {"error": f"at most {MAX_ACTIVE_JOBS} jobs at once"}), []
        job = JobRecord(job_id=command.id, name=command.name, args=start.args,
                        state=JobState.QUEUED, update=1, changed_at=now.timestamp())
        self.jobs[job.job_id] = job
        return Answer(CommandStatus.OK, self._job_ack(job)), [self._save_jobs(now),
                                                               *self._job_updates([job], now)]

    def _cancel_job(self, cancel: CancelJob, now: datetime) -> tuple[Answer, list[Effect]]:
        job = self.jobs.get(cancel.job_id)
        if job is None:
            return Answer(CommandStatus.ERROR, {"error": "no such job"}), []
        if job.state.final:  # nothing to cancel; say how it ended
            return Answer(CommandStatus.OK, self._job_ack(job)), []
        external = external_job_handler(self.handlers, job.name)
        if external is not None and job.state is JobState.RUNNING and not external.cancellable:
            return Answer(CommandStatus.ERROR,
                          {"error": f"a running {job.name} cannot be cancelled",
                           **self._job_ack(job)}), []
        job = self.jobs[job.job_id] = job.advanced(now.timestamp(), state=JobState.CANCELLED)
        return Answer(CommandStatus.OK, self._job_ack(job)), [self._save_jobs(now),
                                                               *self._job_updates([job], now)]

    def jobs_due(self, now: datetime) -> list[Effect]:
        """Advance every queued or running job by the time since the last call."""
        t = now.timestamp()
        elapsed = 0.0 if self._last_tick is None else max(0.0, t - self._last_tick)
        self._last_tick = t
        changed: list[JobRecord] = []
        runs: list[RunJob] = []
        for job in self.active_jobs:
            if external_job_handler(self.handlers, job.name) is not None:
                new, notable = self._advance_external(job, t, runs)
            else:
                new, notable = self._advance(job, elapsed, t)
            self.jobs[job.job_id] = new
            if notable:
                changed.append(new)
        if not changed:
            return [*runs]
        # Saved (running) before the shell is asked to work on it.
        return [self._save_jobs(now), *self._job_updates(changed, now), *runs]

    def _advance_external(
        self, job: JobRecord, t: float, runs: list[RunJob]
    ) -> tuple[JobRecord, bool]:
        if job.state is JobState.RUNNING:
            if job.job_id not in self._handed_out:  # a new core: the shell works on it again
                self._handed_out.add(job.job_id)
                runs.append(RunJob(job))
            return job, False
        busy = any(j.state is JobState.RUNNING and j.job_id != job.job_id
                   and external_job_handler(self.handlers, j.name) is not None
                   for j in self.jobs.values())
        if busy:  # one at a time: it waits, queued, for the running one to end
            return job, False
        new = job.advanced(t, state=JobState.RUNNING)
        self.jobs[job.job_id] = new
        self._handed_out.add(job.job_id)
        runs.append(RunJob(new))
        return new, True

    def job_progress(
        self, job_id: str, now: datetime, *, progress: float, output: Mapping[str, Any]
    ) -> list[Effect]:
        """The shell's report on a running external job; kept and published when the output
        changed (a new phase) or the progress moved by a step."""
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.RUNNING:
            return []  # finished, cancelled while queued, or forgotten: nothing to say
        progress = min(1.0, max(0.0, progress))
        if dict(output) == job.output and progress - job.progress < PROGRESS_STEP:
            return []
        self.jobs[job_id] = job.advanced(now.timestamp(), progress=progress, output=dict(output))
        return [self._save_jobs(now), *self._job_updates([self.jobs[job_id]], now)]

    def job_finished(
        self, job_id: str, now: datetime, *, error: str = "",
        output: Mapping[str, Any] | None = None,
    ) -> list[Effect]:
        """The shell finished an external job: succeeded, or failed with `error`."""
        job = self.jobs.get(job_id)
        self._handed_out.discard(job_id)
        if job is None or job.state.final:
            return []
        state = JobState.FAILED if error else JobState.SUCCEEDED
        new = job.advanced(now.timestamp(), state=state, error=error,
                           output=dict(output if output is not None else job.output),
                           progress=job.progress if error else 1.0)
        self.jobs[job_id] = new
        return [self._save_jobs(now), *self._job_updates([new], now)]

    def _advance(self, job: JobRecord, elapsed: float, t: float) -> tuple[JobRecord, bool]:
        """The job after `elapsed` seconds, and whether the change is worth a message."""
        handler = job_handler(self.handlers, job.name)
        if handler is None:  # restored from a newer agent's file, or a handler removed
            return job.advanced(t, state=JobState.FAILED, error="no handler for this job"), True
        if job.state is JobState.QUEUED:
            return job.advanced(t, state=JobState.RUNNING), True
        try:
            step = handler.step(job, elapsed)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.job_id, job.name)
            return job.advanced(t, state=JobState.FAILED, error=type(exc).__name__), True
        if step.finished:
            state = JobState.FAILED if step.failed else JobState.SUCCEEDED
            return job.advanced(t, state=state, done_s=step.done_s, progress=step.progress,
                                output=step.output, error=step.failed), True
        if step.progress - job.progress >= PROGRESS_STEP:
            return job.advanced(t, done_s=step.done_s, progress=step.progress), True
        # Not worth a message: the work done is kept in memory only (a restart repeats a
        # little of it, never more than one progress step).
        return replace(job, done_s=step.done_s), False

    def _save_jobs(self, now: datetime) -> SaveJobs:
        t = now.timestamp()
        finished = sorted((j for j in self.jobs.values() if j.state.final),
                          key=lambda j: j.changed_at)
        keep = [j for j in finished if t - j.changed_at <= FINISHED_JOB_KEEP_S]
        keep = keep[-MAX_FINISHED_JOBS:]
        self.jobs = {j.job_id: j for j in [*self.active_jobs, *keep]}
        return SaveJobs(tuple(self.jobs.values()))

    def _job_update(self, job: JobRecord, now: datetime) -> Publish:
        update = JobUpdate(
            device_id=self.identity.device_id, ts=now, job_id=job.job_id, name=job.name,
            state=job.state, update=job.update, progress=min(1.0, max(0.0, job.progress)),
            output=job.output, error=job.error[:512],
        )
        return self._publish(Channel.JOB, update)

    def _job_updates(self, jobs: Iterable[JobRecord], now: datetime) -> list[Effect]:
        # Offline, updates wait for the next birth, which republishes every job's latest state.
        return [self._job_update(j, now) for j in jobs] if self.online else []
