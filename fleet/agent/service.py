"""The fleet agent: presence (birth, Will, death), periodic health, and commands.

Threads: the MQTT client's threads only enqueue work; the agent's main thread does it in
order (health collection, commands), so nothing slow ever runs on the network thread.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass

import psutil

from fleet import package_version
from fleet.agent.health import KioskProbe, system_health
from fleet.agent.settings import AgentSettings
from fleet.agent.state import AnsweredCommand, AnsweredCommands, PeripheralMemory, SessionSeqStore
from fleet.mqtt import Backoff, ConnectOptions, IncomingMessage, MqttClient, MqttError, Will
from fleet.protocol import (
    Birth,
    Channel,
    Command,
    CommandResult,
    CommandStatus,
    Death,
    DeathReason,
    Health,
    KnownCommand,
    ProtocolError,
    decode,
    device_topic,
    encode,
    utc_now,
)

log = logging.getLogger(__name__)

# How long an answered command's record is kept after it expires (clock skew between manager and
# terminal, and a manager retrying late); after that a redelivery is answered `expired` anyway.
RECORD_MARGIN_S = 24 * 3600
DEATH_PUBLISH_TIMEOUT_S = 3.0


class _Stop:
    pass


@dataclass(frozen=True)
class _Born:
    session_seq: int


_STOP = _Stop()
_Task = _Stop | _Born | IncomingMessage


class Agent:
    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.device_id = settings.device_id
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self._seq_store = SessionSeqStore(settings.state_dir)
        self._answered = AnsweredCommands(settings.state_dir)
        self._probe = KioskProbe(
            settings.kiosk_status_url,
            min(settings.kiosk_timeout_s, settings.health_interval_s),
            PeripheralMemory(settings.state_dir),
            settings.peripherals,
        )
        self._hostname = socket.gethostname()
        self._agent_version = package_version()
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        # Session state, shared by the connection thread, the network thread and the main thread.
        self._lock = threading.Lock()
        self._session_seq: int | None = None
        self._born_seq: int | None = None  # the session whose birth has been published
        self._health_seq = 0

        self.mqtt = MqttClient(
            settings.broker(),
            ConnectOptions(
                client_id=self.device_id,  # the broker ACL keys on it
                clean_start=True,
                session_expiry_s=settings.session_expiry_s,
                keepalive_s=settings.keepalive_s,
                backoff=Backoff(settings.reconnect_min_s, settings.reconnect_max_s),
                tls=settings.tls_files(),
            ),
            will=self._new_session,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
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
        log.info(
            "fleet agent %s (site %r) starting; broker %s", self.device_id, self.settings.site,
            self.mqtt.broker,
        )
        self.mqtt.start()
        interval = self.settings.health_interval_s
        next_health = time.monotonic() + interval
        try:
            while True:
                try:
                    task: _Task | None = self._tasks.get(
                        timeout=max(0.0, next_health - time.monotonic())
                    )
                except queue.Empty:
                    task = None
                if isinstance(task, _Stop):
                    break
                try:
                    if task is None or isinstance(task, _Born):
                        # Every interval, and right after each birth.
                        next_health = time.monotonic() + interval
                        self.publish_health()
                    else:
                        self._handle_command(task)
                except Exception:
                    # One failed health collection or command (a full disk, a psutil error)
                    # must not take the terminal off the fleet.
                    log.exception("agent task failed")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            seq = self._session_seq if self._born_seq == self._session_seq else None
        announced = False
        if seq is not None and self.mqtt.connected:
            death = Death(device_id=self.device_id, session_seq=seq, reason=DeathReason.SHUTDOWN)
            try:
                self.mqtt.publish(
                    device_topic(self.device_id, Channel.DEATH), encode(death)
                ).wait(DEATH_PUBLISH_TIMEOUT_S)
                announced = True
            except MqttError as exc:
                log.warning("could not announce the shutdown (%s); asking the broker for the Will",
                            exc)
        # A normal disconnect makes the broker discard the Will; if our own death did not get
        # through, disconnect "with Will" so the manager still learns we are gone.
        self.mqtt.stop(send_will=not announced)
        self._probe.close()
        log.info("fleet agent %s stopped", self.device_id)

    # -- presence -------------------------------------------------------------------------------

    def _new_session(self) -> Will:
        """Before each connection attempt: persist a higher session_seq and build its Will."""
        seq = self._seq_store.next()
        with self._lock:
            self._session_seq = seq
            self._born_seq = None
            self._health_seq = 0
        death = Death(device_id=self.device_id, session_seq=seq, reason=DeathReason.WILL)
        return Will(device_topic(self.device_id, Channel.DEATH), encode(death), qos=1)

    def _on_connected(self, session_present: bool) -> None:
        with self._lock:
            seq = self._session_seq
        if seq is None:
            return
        birth = Birth(
            device_id=self.device_id,
            session_seq=seq,
            app_version=self.app_version(),
            agent_version=self._agent_version,
            site=self.settings.site,
            hostname=self._hostname,
            health_interval_s=self.settings.health_interval_s,
        )
        try:
            self.mqtt.publish(device_topic(self.device_id, Channel.BIRTH), encode(birth))
        except MqttError as exc:
            log.warning("could not publish the birth: %s", exc)
            return
        with self._lock:
            self._born_seq = seq
        log.info("online with session_seq %d", seq)
        self._tasks.put(_Born(seq))

    def _on_disconnected(self, reason: str) -> None:
        with self._lock:
            self._born_seq = None

    def app_version(self) -> str:
        return self.settings.app_version or self._probe.last_app_version or self._agent_version

    # -- health -------------------------------------------------------------------------------

    def publish_health(self) -> int | None:
        """Collect and publish one health message; returns its `seq`, or None when offline."""
        with self._lock:
            if self._born_seq is None or self._born_seq != self._session_seq:
                return None
        report = self._probe.report()
        system = system_health(self.settings.disk_path)
        with self._lock:
            session_seq = self._session_seq
            if session_seq is None or self._born_seq != session_seq:
                return None
            self._health_seq += 1
            seq = self._health_seq
        health = Health(
            device_id=self.device_id,
            session_seq=session_seq,
            seq=seq,
            app_version=self.app_version(),
            system=system,
            kiosk=report.kiosk,
            peripherals=report.peripherals,
        )
        try:
            self.mqtt.publish(device_topic(self.device_id, Channel.HEALTH), encode(health))
        except MqttError as exc:
            log.debug("health %d not sent: %s", seq, exc)
            return None
        return seq

    # -- commands -----------------------------------------------------------------------------

    def _handle_command(self, message: IncomingMessage) -> None:
        try:
            command = decode(message.payload, Command)
        except ProtocolError as exc:
            log.warning("dropping a command: %s", exc)
            return
        assert isinstance(command, Command)
        previous = self._answered.get(command.id)
        if previous is not None:
            log.info("command %s (%s) already answered; repeating the answer", command.id,
                     command.name)
            self._send_result(command.id, previous.status, previous.output)
            return
        now = utc_now()
        if command.device_id != self.device_id:
            status, output = CommandStatus.REJECTED, {"error": "addressed to another device"}
        elif command.expired(now):
            status, output = CommandStatus.EXPIRED, {}
        else:
            status, output = self._run_command(command)
        log.info("command %s (%s): %s", command.id, command.name, status.value)
        # Recorded before it is sent: after a crash in between, the redelivered command is
        # answered from the record, not run again.
        keep_until = max(command.expires_at, now).timestamp() + RECORD_MARGIN_S
        self._answered.record(command.id, AnsweredCommand(status.value, output, keep_until))
        self._send_result(command.id, status.value, output)

    def _run_command(self, command: Command) -> tuple[CommandStatus, dict[str, object]]:
        try:
            if command.name == KnownCommand.PING:
                return CommandStatus.OK, {"pong": True}
            if command.name == KnownCommand.REPORT_HEALTH:
                seq = self.publish_health()
                if seq is None:
                    return CommandStatus.ERROR, {"error": "health could not be published"}
                return CommandStatus.OK, {"health_seq": seq}
        except Exception as exc:
            log.exception("command %s (%s) failed", command.id, command.name)
            return CommandStatus.ERROR, {"error": type(exc).__name__}
        return CommandStatus.UNKNOWN_COMMAND, {"known": sorted(c.value for c in KnownCommand)}

    def _send_result(self, command_id: str, status: str, output: dict[str, object]) -> None:
        result = CommandResult(
            device_id=self.device_id, id=command_id, status=CommandStatus(status), output=output
        )
        try:
            self.mqtt.publish(device_topic(self.device_id, Channel.COMMAND_RESULT), encode(result))
        except MqttError as exc:
            # The manager re-sends unanswered commands after our next birth; the record answers.
            log.warning("result of command %s not sent: %s", command_id, exc)
