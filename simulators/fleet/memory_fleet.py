"""N virtual terminals on an in-memory broker, driven by the caller's clock (no threads).

    fleet = MemoryFleet(MemoryBroker(), count=2000)
    fleet.start(now)            # every terminal connects: Will, birth, first health
    fleet.tick(now + 30s)       # health that is due, jobs that run
    fleet.kill(["SIM-00001"])   # the broker publishes its Will
    fleet.restart(["SIM-00001"], now)

A consumer (the manager's ingest, a test) subscribes on the same broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fleet.protocol import Channel, device_topic
from simulators.fleet.memory import Connection, MemoryBroker
from simulators.fleet.terminal import VirtualTerminal


def device_ids(count: int, prefix: str = "SIM") -> list[str]:
    return [f"{prefix}-{n:05d}" for n in range(count)]


class MemoryFleet:
    def __init__(self, broker: MemoryBroker, count: int, *, prefix: str = "SIM",
                 health_interval_s: float = 30, seed: int = 0) -> None:
        self.broker = broker
        self.terminals = {
            d: VirtualTerminal(d, health_interval_s=health_interval_s, seed=seed)
            for d in device_ids(count, prefix)
        }
        self._conns: dict[str, Connection] = {}
        self._now: datetime | None = None

    def _send(self, device_id: str, effects: Iterable) -> None:
        conn = self._conns.get(device_id)
        for e in effects:
            if conn is not None and conn.open:
                conn.publish(e.topic, e.payload)

    def connect(self, device_id: str, now: datetime) -> None:
        t = self.terminals[device_id]
        will = t.connecting(now)

        def on_command(_topic: str, payload: bytes) -> None:
            assert self._now is not None
            self._send(device_id, t.command(payload, self._now))

        conn = self.broker.connect(device_id, on_command, (will.topic, will.payload))
        conn.subscribe(device_topic(device_id, Channel.COMMAND))
        self._conns[device_id] = conn
        self._send(device_id, t.connected(now))
        self._send(device_id, t.health_due(now))

    def start(self, now: datetime) -> None:
        self._now = now
        for device_id in self.terminals:
            self.connect(device_id, now)

    def tick(self, now: datetime) -> None:
        self._now = now
        for device_id, t in self.terminals.items():
            if device_id in self._conns:
                self._send(device_id, t.health_due(now))
                self._send(device_id, t.jobs_due(now))

    def kill(self, ids: Iterable[str]) -> None:
        """Like kill -9 of each agent: no death of its own, the broker sends the Will."""
        for device_id in ids:
            conn = self._conns.pop(device_id, None)
            if conn is not None:
                conn.kill()
            self.terminals[device_id].disconnected()

    def restart(self, ids: Iterable[str], now: datetime) -> None:
        self._now = now
        for device_id in ids:
            self.kill([device_id])
            self.terminals[device_id].restart()
            self.connect(device_id, now)

    def stop(self, now: datetime, ids: Iterable[str] | None = None) -> None:
        """Clean shutdowns: each agent publishes its death, then disconnects."""
        for device_id in list(ids if ids is not None else self._conns):
            conn = self._conns.pop(device_id, None)
            if conn is None:
                continue
            for e in self.terminals[device_id].stopping(now):
                conn.publish(e.topic, e.payload)
            conn.disconnect()

    def inject(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Publish raw messages (misbehaviours) as if from the terminals."""
        for topic, payload in messages:
            self.broker.publish(topic, payload)
