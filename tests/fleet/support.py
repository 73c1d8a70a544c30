"""Helpers for the fleet tests: a fake kiosk status endpoint, an MQTT probe that publishes by
hand and records what it sees, the manager's REST API, condition waits with deadlines, and
terminals from the fleet simulator (the agent's own core does their birth/health sequencing,
so no test builds it by hand), also wired in memory to the manager's real ingest."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as paho

from common.clock import utc_now
from fleet.mqtt import IncomingMessage
from fleet.protocol import MANAGER_SUBSCRIPTION
from simulators.fleet.memory import MemoryBroker
from simulators.fleet.terminal import VirtualTerminal
from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor
from tests.harness.waiting import wait_for

T = TypeVar("T")


# -- fake kiosk status endpoint ----------------------------------------------------------------


def kiosk_status(card_state: str = "ok", code: str = "ok", reason: str = "") -> dict[str, Any]:
    return {  # hrss.kiosk-status/1 (docs/contracts/kiosk-status.md)
        "schema": "hrss.kiosk-status/1",
        "app_version": "2.3.4",
        "device_id": "fake-kiosk",
        "screen": "attract",
        "session_active": False,
        "peripherals": {"card_reader": {"state": card_state, "code": code, "reason": reason}},
    }


class _ReusableServer(ThreadingHTTPServer):
    allow_reuse_address = True  # restart on the same port right after stop()
    daemon_threads = True


class FakeKiosk:
    """`GET /status` like the kiosk's local endpoint; can be taken down and brought back."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = kiosk_status()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/status"

    def start(self) -> None:
        kiosk = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/status":
                    self.send_error(404)
                    return
                body = json.dumps(kiosk.status).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _ReusableServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# -- MQTT probe --------------------------------------------------------------------------------


@dataclass
class Seen:
    topic: str
    payload: dict[str, Any]


class MqttProbe:
    """A plain paho client: publishes by hand and records messages on its subscriptions."""

    def __init__(self, broker_url: str, client_id: str = "test-probe") -> None:
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self.messages: list[Seen] = []
        self._cond = threading.Condition()
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self._client.on_message = self._on_message
        connected = threading.Event()
        self._client.on_connect = lambda *a: connected.set()
        self._client.connect(host, int(port))
        self._client.loop_start()
        assert connected.wait(10), "probe could not connect"

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Seen(msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self._client.on_subscribe = lambda *a: done.set()
        self._client.subscribe(topic_filter, qos=1)
        assert done.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._client.publish(topic, data, qos=1).wait_for_publish(10)

    def wait(
        self, predicate: Callable[[Seen], bool], what: str, count: int = 1, timeout: float = 20.0
    ) -> list[Seen]:
        """Block (on a condition variable, not a sleep) until `count` matching messages."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; saw {len(found)}")
                self._cond.wait(remaining)

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        with self._cond:
            return [m for m in self.messages if predicate(m)]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# -- the stack ---------------------------------------------------------------------------------


@dataclass
class FleetStack:
    sup: Supervisor
    workdir: Path
    broker: services.Mosquitto
    manager: services.HttpService
    manager_proc: ManagedProcess
    agents: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.manager.url + "/api/v1"

    def agent_spec(
        self,
        device_id: str,
        kiosk_url: str,
        health_interval_s: float = 0.5,
        **extra_env: str,
    ) -> Any:
        spec = services.fleet_agent(
            self.workdir / "agents" / device_id,
            device_id=device_id,
            broker_url=self.broker.url,
            kiosk_status_url=kiosk_url,
            health_interval_s=health_interval_s,
            site="hall-7",
        )
        spec.env.update({"AGENT_RECONNECT_MIN_S": "0.2", "AGENT_RECONNECT_MAX_S": "2",
                         "AGENT_KIOSK_TIMEOUT_S": "0.5", **extra_env})
        return spec

    def start_agent(self, device_id: str, kiosk_url: str, **kwargs: Any) -> ManagedProcess:
        proc = self.sup.start(self.agent_spec(device_id, kiosk_url, **kwargs))
        self.agents[device_id] = proc
        return proc

    def logs(self) -> str:
        parts = []
        for proc in self.sup.processes:
            parts.append(f"--- {proc.name} ---\n{proc.log_tail(30)}")
        return "\n".join(parts)

    def device(self, device_id: str) -> dict[str, Any] | None:
        r = httpx.get(f"{self.api}/devices/{device_id}", timeout=5)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.api}/health", timeout=5).json()

    def wait_device(
        self, device_id: str, check: Callable[[dict[str, Any]], bool], what: str,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            d = self.device(device_id)
            return d if d is not None and check(d) else None

        return wait_for(probe, f"{device_id}: {what}", timeout, diagnostics=self.logs)

    def command(self, command_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.api}/commands/{command_id}", timeout=5)
        r.raise_for_status()
        return r.json()

    def post_command(
        self, device_id: str, body: dict[str, Any], key: str | None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return httpx.post(f"{self.api}/devices/{device_id}/commands", json=body,
                          headers=headers, timeout=10)


@contextmanager
def fleet_stack(
    sup: Supervisor, workdir: Path, broker: services.Mosquitto, **manager_env: str
) -> Iterator[FleetStack]:
    manager = services.fleet_manager(workdir / "manager", broker_url=broker.url)
    manager.spec.env.update(manager_env)
    proc = sup.start(manager.spec)
    yield FleetStack(sup=sup, workdir=workdir, broker=broker, manager=manager, manager_proc=proc)


# -- simulated terminals -----------------------------------------------------------------------


def online_messages(
    device_id: str, healths: int = 1, *, health_interval_s: float = 30,
    now: datetime | None = None,
) -> tuple[VirtualTerminal, list[tuple[str, bytes]]]:
    """A simulated terminal that connected: its birth and `healths` health messages (seq 1..n),
    as (topic, payload). The terminal is returned to continue its session or restart it."""
    now = now or utc_now()
    terminal = VirtualTerminal(device_id, health_interval_s=health_interval_s)
    terminal.connecting(now)
    out = [(e.topic, e.payload) for e in terminal.connected(now)]
    for _ in range(healths):
        out += [(e.topic, e.payload) for e in terminal.core.health_due(terminal.report(now), now)]
    return terminal, out


class MemoryIngest:
    """The manager's real ingest (IngestWriter on a SQLite registry, migrations applied) fed by
    an in-memory broker through the managers' shared subscription. Acknowledgements counted."""

    def __init__(self, broker: MemoryBroker, db_path: Path) -> None:
        # Imported here: the manager's modules are not needed by most users of this file.
        from fleet.manager import migrations
        from fleet.manager.db import open_database
        from fleet.manager.ingest import IngestWriter
        from fleet.manager.registry import Registry
        from fleet.manager.stats import IngestStats

        self.db = open_database(f"sqlite:///{db_path}")
        migrations.upgrade(self.db)
        self.registry = Registry(self.db, history_interval_s=0)
        self.stats = IngestStats()
        self.reborn: list[str] = []
        self.writer = IngestWriter(self.registry, self.stats, on_reborn=self.reborn.extend)
        self.acked = 0
        self._cond = threading.Condition()
        self.writer.start()
        broker.connect("memory-manager", self._on_message).subscribe(MANAGER_SUBSCRIPTION)

    def _ack(self) -> None:
        with self._cond:
            self.acked += 1
            self._cond.notify_all()

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.writer.submit(IncomingMessage(topic, payload, 1, received_at=time.time(),
                                           ack=self._ack))

    def wait_acked(self, count: int, timeout: float = 30.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.acked >= count, timeout)
        assert ok, f"{self.acked} of {count} messages acknowledged by the ingest"

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()


@contextmanager
def silent_broker() -> Iterator[tuple[int, threading.Semaphore]]:
    """A listener that accepts TCP connections and never answers CONNECT: its port, and a
    semaphore released once per accepted connection."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Semaphore(0)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed at the end
            while True:
                held.append(server.accept()[0])
                accepted.release()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()
        for s in held:
            s.close()
