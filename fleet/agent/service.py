"""The fleet agent: the shell around `AgentCore` (fleet.agent.core).

The core decides (presence, sequencing, commands, jobs); this shell does the I/O it asks for:
the MQTT transport (injected, `fleet.agent.transport`), the state directory
(`fleet.agent.state`), the kiosk's status endpoint, the edge's health and psutil
(`fleet.agent.health`), the update runner (`fleet.agent.update`) and the clock. Threads: the
transport's threads and the job worker only enqueue work or make non-blocking calls; the agent's
main thread does the rest in order, so nothing slow ever runs on the network thread. The job
worker carries out external jobs (`RunJob`: updates, one at a time) and reports back through the
main thread.
Every wait has a deadline, so `request_stop()` ends `run()` within a few seconds.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import psutil

from common.backoff import Backoff
from common.clock import Clock, utc_now
from common.version import __version__
from fleet.agent.commands.set_config import ConfigStore, apply_live, config_defaults
from fleet.agent.core import (
    AgentCore,
    ConfigChanged,
    Effect,
    HealthReport,
    Identity,
    JobRecord,
    NeedReport,
    Publish,
    RecordAnswer,
    RunJob,
    RunningConfig,
    SaveJobs,
)
from fleet.agent.health import EdgeProbe, KioskProbe, read_temperature, system_health
from fleet.agent.settings import AgentSettings
from fleet.agent.shell_commands import ShellCommands, Worked
from fleet.agent.state import AnsweredCommands, JobStore, PeripheralMemory, SessionSeqStore
from fleet.agent.transport import Callbacks, MqttTransport, Transport, TransportFactory
from fleet.agent.update.health import TerminalStatus
from fleet.agent.update.runner import JobEnd, RunnerConfig, UpdateRunner
from fleet.mqtt import ConnectOptions, IncomingMessage, MqttError, Will
from fleet.protocol import Channel, JobState, device_topic

log = logging.getLogger(__name__)

#: How long a clean shutdown waits for the broker to acknowledge our death.
DEATH_PUBLISH_TIMEOUT_S = 2.0
#: How long `stop` waits for the transport's thread.
TRANSPORT_STOP_TIMEOUT_S = 2.0
# How long the main loop waits at most before it looks again (see run()).
STOP_POLL_S = 0.25
#: How often running jobs are advanced.
JOB_TICK_S = 1.0
#: How long `stop` waits for the job worker (an update resumes after the next start anyway).
JOB_WORKER_STOP_TIMEOUT_S = 2.0
#: After an unexpected error in an external job, the worker tries again (from the job's
#: durable state) after this long.
JOB_RETRY_S = 30.0


class _Stop:
    pass


@dataclass(frozen=True)
class _Born:
    session_seq: int


@dataclass(frozen=True)
class _JobProgress:
    job_id: str
    progress: float
    output: dict[str, object]


@dataclass(frozen=True)
class _JobEnded:
    job_id: str
    end: JobEnd


_STOP = _Stop()
_Task = _Stop | _Born | IncomingMessage | _JobProgress | _JobEnded | Worked


def mqtt_transport(settings: AgentSettings) -> MqttTransport:
    return MqttTransport(
        settings.broker(),
        ConnectOptions(
            client_id=settings.device_id,  # the broker ACL keys on it
            clean_start=True,
            session_expiry_s=settings.session_expiry_s,
            keepalive_s=settings.keepalive_s,
            backoff=Backoff(settings.reconnect_min_s, settings.reconnect_max_s),
            connect_timeout_s=settings.connect_timeout_s,
            tls=settings.tls_files(),
        ),
    )


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        *,
        transport: TransportFactory | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.device_id = settings.device_id
        self._clock = clock
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self._seq_store = SessionSeqStore(settings.state_dir)
        self._answered = AnsweredCommands(settings.state_dir, settings.answered_commands_max)
        self._jobs = JobStore(settings.state_dir)
        self._config_store = ConfigStore(settings.state_dir)
        self._probe = KioskProbe(
            settings.kiosk_status_url,
            min(settings.kiosk_timeout_s, settings.health_interval_s),
            PeripheralMemory(settings.state_dir),
            settings.peripherals,
        )
        self._edge = (
            EdgeProbe(settings.edge_url, min(settings.edge_timeout_s, settings.health_interval_s))
            if settings.edge_url else None
        )
        self.core = AgentCore(
            Identity(
                device_id=self.device_id,
                site=settings.site,
                hostname=socket.gethostname()[:255],
                agent_version=__version__,
                health_interval_s=settings.health_interval_s,
            ),
            jobs=self._jobs.load(),
            config=RunningConfig(*self._config_store.load(), defaults=config_defaults(settings)),
        )
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._stop_jobs = threading.Event()
        self._job_queue: queue.SimpleQueue[JobRecord] = queue.SimpleQueue()
        self._job_worker = threading.Thread(target=self._work_on_jobs, name="job-worker",
                                            daemon=True)
        self.updates = UpdateRunner(
            RunnerConfig.from_settings(settings),
            TerminalStatus(settings.kiosk_status_url, settings.kiosk_timeout_s,
                           settings.edge_url, settings.edge_timeout_s, self._stop_jobs),
        )
        apply_live(self.core.config, self.updates)  # what set-config left in the state dir
        # restart-app, reboot, maintenance, logs, screenshot: worked on before the core answers.
        self.shell_commands = ShellCommands(settings, self.core.handlers, self._answered.get,
                                            self._tasks.put, clock)
        # Serialises the core: it is called from the transport's threads and the main thread.
        self._lock = threading.Lock()
        factory = transport if transport is not None else mqtt_transport(settings)
        self.mqtt: Transport = factory(
            Callbacks(will=self._new_session, on_connected=self._on_connected,
                      on_disconnected=self._on_disconnected)
        )
        self.mqtt.subscribe(device_topic(self.device_id, Channel.COMMAND), self._tasks.put, qos=1)

    # -- lifecycle ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler (SimpleQueue.put is reentrant)."""
        self._tasks.put(_STOP)

    def run(self) -> None:
        """Run until `request_stop()`; then announce the shutdown and disconnect."""
        psutil.cpu_percent(interval=None)  # prime the non-blocking CPU measurement
        self._probe.report()  # learn the kiosk's app version for the first birth
        log.info("fleet agent %s (site %r) starting", self.device_id, self.settings.site)
        self._job_worker.start()
        self.shell_commands.start()
        self._resume_orphan_update()
        self.mqtt.start()
        # The interval running (set-config may change it): read again for every message.
        next_health = time.monotonic() + self.core.health_interval_s
        next_jobs = time.monotonic()
        try:
            while True:
                wake = next_health if not self.core.active_jobs else min(next_health, next_jobs)
                try:
                    # Never wait long: a SIGTERM the kernel hands to another thread does not
                    # interrupt this wait, so the handler's stop request is only seen here.
                    timeout = min(max(0.0, wake - time.monotonic()), STOP_POLL_S)
                    task: _Task | None = self._tasks.get(timeout=timeout)
                except queue.Empty:
                    task = None
                if isinstance(task, _Stop):
                    break
                try:
                    if isinstance(task, IncomingMessage):
                        self.handle_command(task.payload)
                    elif isinstance(task, Worked):
                        self.handle_command(task.payload, task.started_at, worked=True)
                        self.shell_commands.handed_back(task.command_id)
                    elif isinstance(task, _JobProgress | _JobEnded):
                        self._job_reported(task)
                    elif isinstance(task, _Born) or time.monotonic() >= next_health:
                        # Every interval, and right after each birth.
                        next_health = time.monotonic() + self.core.health_interval_s
                        self.publish_health()
                    if self.core.active_jobs and time.monotonic() >= next_jobs:
                        next_jobs = time.monotonic() + JOB_TICK_S
                        self._apply(self._core(lambda: self.core.jobs_due(self._clock())))
                except Exception:
                    # One failed health collection or command (a full disk, a psutil error)
                    # must not take the terminal off the fleet.
                    log.exception("agent task failed")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._stop_jobs.set()
        if self._job_worker.is_alive():
            self._job_worker.join(JOB_WORKER_STOP_TIMEOUT_S)
        self.shell_commands.stop(JOB_WORKER_STOP_TIMEOUT_S)
        announced = False
        for effect in self._core(lambda: self.core.stopping(self._clock())):
            assert isinstance(effect, Publish)
            try:
                self.mqtt.publish(effect.topic, effect.payload, qos=1).wait(
                    DEATH_PUBLISH_TIMEOUT_S
                )
                announced = True
            except MqttError as exc:
                log.warning("could not announce the shutdown (%s); asking the broker for the Will",
                            exc)
        # A normal disconnect makes the broker discard the Will; if our own death did not get
        # through, disconnect "with Will" so the manager still learns we are gone.
        self.mqtt.stop(TRANSPORT_STOP_TIMEOUT_S, send_will=not announced)
        self._probe.close()
        if self._edge is not None:
            self._edge.close()
        log.info("fleet agent %s stopped", self.device_id)

    def _core(self, call: Callable[[], list[Effect]]) -> list[Effect]:
        with self._lock:
            return call()

    # -- presence (transport threads) -----------------------------------------------------------

    def _new_session(self) -> Will:
        """Before each connection attempt: persist a higher session_seq and build its Will."""
        seq = self._seq_store.next()
        with self._lock:
            will = self.core.connecting(seq)
        return Will(will.topic, will.payload, qos=1)

    def _on_connected(self, session_present: bool) -> None:
        effects = self._core(lambda: self.core.connected(self.app_version(), self._clock()))
        if not effects:
            return
        self._apply(effects)
        seq = self.core.session_seq
        log.info("online with session_seq %s", seq)
        if seq is not None:
            self._tasks.put(_Born(seq))

    def _on_disconnected(self, reason: str) -> None:
        with self._lock:
            self.core.disconnected()

    def app_version(self) -> str:
        return self.settings.app_version or self._probe.last_app_version or __version__

    # -- health and commands (main thread) ----------------------------------------------------

    def _report(self) -> HealthReport:
        kiosk = self._probe.report()
        return HealthReport(
            app_version=self.app_version(),
            system=system_health(self.settings.disk_path),
            kiosk=kiosk.kiosk,
            peripherals=kiosk.peripherals,
            edge=self._edge.report() if self._edge is not None else None,
            temperature_c=read_temperature(self.settings.thermal_dir),
            edge_reachable=kiosk.edge_reachable,
            outbox=kiosk.outbox,
            maintenance=kiosk.maintenance,
        )

    def publish_health(self) -> int | None:
        """Collect and publish one health message; returns its `seq`, or None when offline."""
        if not self.core.online:
            return None
        report = self._report()
        effects = self._core(lambda: self.core.health_due(report, self._clock()))
        return self.core.health_seq if self._apply(effects) else None

    def handle_command(
        self, payload: bytes, now: datetime | None = None, *, worked: bool = False
    ) -> None:
        if not worked:
            taken = self.shell_commands.take(payload)
            if taken is None:  # worked on first; comes back as a `Worked` task
                return
            payload = taken
        at: datetime = now or self._clock()  # a worked command: when its work began
        effects = self._core(lambda: self.core.command(payload, at, self._answered.get))
        if any(isinstance(e, NeedReport) for e in effects):
            report = self._report()
            effects = self._core(
                lambda: self.core.command(payload, at, self._answered.get, report)
            )
        self._apply(effects)

    def _apply(self, effects: Iterable[Effect]) -> bool:
        """Carry out the core's effects in order; False if a publish did not go out."""
        sent = True
        for effect in effects:
            if isinstance(effect, RecordAnswer):
                self._answered.record(effect.command_id, effect.answer)
            elif isinstance(effect, SaveJobs):
                self._jobs.save(effect.jobs)
            elif isinstance(effect, RunJob):
                self._job_queue.put(effect.job)
            elif isinstance(effect, ConfigChanged):
                # Kept before it is applied (and before the result goes out): after a restart
                # the agent runs what it last reported.
                self._config_store.save(effect.config.revision, effect.config.desired)
                apply_live(effect.config, self.updates)
            elif isinstance(effect, Publish):
                sent = self._publish(effect) and sent
        return sent

    def _publish(self, effect: Publish) -> bool:
        try:
            self.mqtt.publish(effect.topic, effect.payload, qos=1)
        except MqttError as exc:
            what = effect.message.SCHEMA if effect.message is not None else effect.topic
            if exc.retryable:
                # Offline: the manager re-sends unanswered commands after our next birth, which
                # also republishes every job's state; a missed health is worth nothing later.
                log.debug("%s not sent (will be again after reconnecting): %s", what, exc)
            else:
                log.error("%s refused: %s", what, exc)  # a bug or the broker's ACL
            return False
        return True


    # -- external jobs (the job worker thread) --------------------------------------------------

    def _resume_orphan_update(self) -> None:
        """An update a previous process left half-way, whose job this agent no longer holds
        (jobs.json lost): finish it anyway, so the slots end committed or rolled back."""
        state = self.updates.unfinished()
        job = self.core.jobs.get(state.job_id) if state is not None else None
        if state is None or (job is not None and not job.state.final):
            return  # nothing left, or the core hands the job out again itself
        log.warning("resuming update %s, whose job is no longer held", state.job_id)
        self._job_queue.put(JobRecord(job_id=state.job_id, name=state.kind.value, args={},
                                      state=JobState.RUNNING))

    def _work_on_jobs(self) -> None:
        while not self._stop_jobs.is_set():
            try:
                job = self._job_queue.get(timeout=STOP_POLL_S)
            except queue.Empty:
                continue
            self._work_on(job)

    def _work_on(self, job: JobRecord) -> None:
        def report(progress: float, output: dict[str, object]) -> None:
            self._tasks.put(_JobProgress(job.job_id, progress, output))

        while not self._stop_jobs.is_set():
            try:
                end = self.updates.run(job.job_id, job.name, job.args, report, self._stop_jobs)
            except Exception:
                # A bug or a full disk mid-phase: the job's durable state says where it was,
                # and trying again resumes (or, past the attempts, refuses or rolls back).
                log.exception("job %s (%s) failed; trying again in %gs", job.job_id, job.name,
                              JOB_RETRY_S)
                self._stop_jobs.wait(JOB_RETRY_S)
                continue
            if end is not None:
                self._tasks.put(_JobEnded(job.job_id, end))
            return

    def _job_reported(self, task: _JobProgress | _JobEnded) -> None:
        now = self._clock()
        with self._lock:
            if isinstance(task, _JobProgress):
                effects = self.core.job_progress(task.job_id, now, progress=task.progress,
                                                 output=task.output)
            else:
                log.info("job %s ended: %s", task.job_id, task.end.error or "succeeded")
                effects = self.core.job_finished(task.job_id, now, error=task.end.error,
                                                 output=task.end.output)
        self._apply(effects)
