"""Simulated terminals that answer rollouts over a real broker: one MQTT client in this process
speaks for many terminals (births and health from the fleet simulator's agent core; `update`,
`rollback` and `cancel-job` answered as the contract says, with `hrss.job/1` messages).

Until the agent core runs updates itself, this is the terminal side of the rollout tests and of
`benchmarks/rollout.py`. A command is answered once per id, as the agent does from its record:
a redelivered command gets the same answer again and never a second job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho

from common.clock import utc_now
from fleet.protocol import (
    Channel,
    Command,
    CommandResult,
    CommandStatus,
    JobState,
    JobUpdate,
    ProtocolError,
    decode_for_channel,
    device_topic,
    encode,
    parse_device_topic,
)
from simulators.fleet.terminal import VirtualTerminal

CMD_FILTER = "hrss/v1/dev/+/cmd"


@dataclass(frozen=True)
class Received:
    device_id: str
    command_id: str
    name: str
    args: dict[str, Any]


class FakeTerminals:
    def __init__(self, broker_url: str, device_ids: Iterable[str], *, app_version: str = "1.3.0",
                 bad: Iterable[str] = (), client_id: str = "fake-terminals") -> None:
        self.device_ids = list(device_ids)
        self._mine = set(self.device_ids)
        self.app_version = app_version
        self.bad = set(bad)  # the release never becomes healthy here: rolled back by itself
        self.version = dict.fromkeys(self.device_ids, app_version)
        self.received: list[Received] = []
        self._answered: dict[str, list[tuple[str, bytes]]] = {}
        self._cond = threading.Condition()
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=paho.MQTTv5)
        self._client.max_inflight_messages_set(0)
        self._client.on_message = self._on_message
        ready, subscribed = threading.Event(), threading.Event()
        self._client.on_connect = lambda *_a: ready.set()
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.connect(host, int(port))
        self._client.loop_start()
        assert ready.wait(10), "fake terminals could not connect"
        self._client.subscribe(CMD_FILTER, qos=1)
        assert subscribed.wait(10), "no SUBACK"

    def announce(self) -> None:
        """A birth and a health message of every terminal."""
        infos = []
        now = utc_now()
        for device_id in self.device_ids:
            terminal = VirtualTerminal(device_id, app_version=self.app_version)
            terminal.connecting(now)
            messages = [*terminal.connected(now),
                        *terminal.core.health_due(terminal.report(now), now)]
            for e in messages:
                infos.append(self._client.publish(e.topic, e.payload, qos=1))
        for info in infos:
            info.wait_for_publish(30)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- what the test sees ---------------------------------------------------------------------

    def of(self, name: str, device_id: str | None = None) -> list[Received]:
        with self._cond:
            return [r for r in self.received
                    if r.name == name and (device_id is None or r.device_id == device_id)]

    def wait(self, name: str, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until `count` distinct commands named `name` arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = {r.command_id: r for r in self.received if r.name == name}
                if len(got) >= count:
                    return list(got.values())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {count} {name} commands arrived")
                self._cond.wait(left)

    # -- the terminal side ------------------------------------------------------------------------

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            device_id = parse_device_topic(msg.topic).device_id
            command = decode_for_channel(Channel.COMMAND, msg.payload)
        except (ProtocolError, ValueError):
            return
        if device_id not in self._mine or not isinstance(command, Command):
            return
        with self._cond:
            self.received.append(Received(device_id, command.id, command.name,
                                          dict(command.args)))
            self._cond.notify_all()
            again = self._answered.get(command.id)
            if again is None:
                again = self._answered[command.id] = self._answer(device_id, command)
        for topic, payload in again:
            self._client.publish(topic, payload, qos=1)

    def _answer(self, device_id: str, command: Command) -> list[tuple[str, bytes]]:
        def result(output: dict[str, Any], status: CommandStatus = CommandStatus.OK) -> tuple:
            return (device_topic(device_id, Channel.COMMAND_RESULT),
                    encode(CommandResult(device_id=device_id, id=command.id, status=status,
                                         output=output)))

        def job(update: int, state: JobState, **kw: Any) -> tuple:
            return (device_topic(device_id, Channel.JOB),
                    encode(JobUpdate(device_id=device_id, job_id=command.id, name=command.name,
                                     state=state, update=update, **kw)))

        queued = result({"job_id": command.id, "state": "queued"})
        if command.name == "update":
            previous = self.version[device_id]
            running = job(1, JobState.RUNNING, progress=0.5, output={"phase": "download"})
            if device_id in self.bad:
                end = job(2, JobState.FAILED, progress=1.0, error="unhealthy: kiosk not healthy",
                          output={"phase": "rolled-back", "reason": "unhealthy",
                                  "running_version": previous})
            else:
                self.version[device_id] = str(command.args.get("version"))
                end = job(2, JobState.SUCCEEDED, progress=1.0,
                          output={"phase": "committed", "version": self.version[device_id]})
            return [queued, running, end]
        if command.name == "rollback":
            to = str(command.args.get("to_version"))
            self.version[device_id] = to
            return [queued, job(1, JobState.SUCCEEDED, progress=1.0,
                                output={"phase": "rolled-back", "version": to})]
        if command.name == "cancel-job":
            return [result({"job_id": command.args.get("job_id"), "state": "succeeded"})]
        return [result({})]
