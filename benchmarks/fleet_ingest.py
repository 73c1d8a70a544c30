"""Fleet manager ingest rate vs a bare subscriber of the same MQTT library, on a private Mosquitto.

    python -m benchmarks.fleet_ingest [--messages 60000] [--terminals 200] [--managers 2]

1. Live phase: a birth from every simulated terminal, then health messages paced at
   `--live-rate` while the manager(s) and the baseline subscriber are connected: end-to-end
   latency (sender timestamp to registry commit; to receipt for the baseline).
2. Drain phase: all consumers go away (keeping their persistent sessions), `--messages` health
   messages are published, then each consumer comes back and drains its queue. Rate = messages /
   (last commit, or last receipt, minus first receipt): the consumers' capacity, not the
   publisher's.

Terminals are the fleet simulator's (simulators/fleet): the agent's own core sequences their
births and health, published here over one fast connection (the load, not the presence, is
measured). The managers are real processes (`kioskctl fleet manager`, one SQLite registry,
acknowledging after each batch commit) on the shared subscription. The baseline is a bare gmqtt
subscriber that only counts (gmqtt is the manager's ingest library, fleet/mqtt_ingest.py); a bare
paho one (the library of everything else in fleet/) is measured beside it. Each counts in its own
share group, so it receives every message too. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gmqtt
import httpx
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from common.clock import utc_now
from fleet.manager.stats import percentile
from fleet.protocol import ALL_DEVICES_FILTER, shared_subscription
from simulators.fleet.memory_fleet import device_ids
from simulators.fleet.terminal import VirtualTerminal
from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor

RECEIVE_MAXIMUM = 10_000
SESSION_EXPIRY_S = 600


def connect(
    broker: services.Mosquitto, client_id: str, *, clean: bool, on_message: Any = None
) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv5)
    # 0 = no limit; with a limit, paho rescans its whole queue on every PUBACK.
    client.max_inflight_messages_set(0)
    if on_message is not None:
        client.on_message = on_message
    ready = threading.Event()
    client.on_connect = lambda *_a: ready.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    client.connect(broker.host, broker.port, clean_start=clean, properties=props)
    client.loop_start()
    if not ready.wait(10):
        raise RuntimeError(f"{client_id} could not connect")
    return client


def close(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


class _Counter:
    """What a baseline subscriber does per message: count, and in the live phase measure."""

    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.latency_ms: list[float] | None = []

    def reset(self) -> None:
        self.count, self.first, self.last = 0, None, None
        self.latency_ms = None  # the drain phase only counts

    def seen(self, payload: bytes) -> None:
        now = time.time()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1
        if self.latency_ms is not None:
            sent = datetime.fromisoformat(json.loads(payload)["ts"]).timestamp()
            self.latency_ms.append((now - sent) * 1000)

    def rate(self, messages: int) -> float:
        assert self.first is not None and self.last is not None
        return messages / (self.last - self.first)


class PahoBaseline(_Counter):
    """A bare paho subscriber that counts (the library of `fleet.mqtt`)."""

    def __init__(self, broker: services.Mosquitto, group: str) -> None:
        super().__init__()
        self.broker = broker
        self.group = group
        self.client: paho.Client | None = None

    def connect(self, *, clean: bool) -> None:
        self.client = connect(self.broker, self.group, clean=clean,
                              on_message=lambda _c, _u, msg: self.seen(msg.payload))
        if clean:
            done = threading.Event()
            self.client.on_subscribe = lambda *_a: done.set()
            self.client.subscribe(shared_subscription(self.group, ALL_DEVICES_FILTER), 1)
            if not done.wait(10):
                raise RuntimeError(f"{self.group} could not subscribe")

    def disconnect(self) -> None:
        assert self.client is not None
        close(self.client)


class GmqttBaseline(_Counter):
    """A bare gmqtt subscriber that counts (the library of the manager's ingest,
    `fleet.mqtt_ingest`), with gmqtt's own acknowledgement on receipt."""

    def __init__(self, broker: services.Mosquitto, group: str) -> None:
        super().__init__()
        self.broker = broker
        self.group = group
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: gmqtt.Client | None = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _connect(self, clean: bool) -> None:
        client = gmqtt.Client(self.group, clean_session=clean,
                              session_expiry_interval=SESSION_EXPIRY_S,
                              receive_maximum=RECEIVE_MAXIMUM)

        def on_message(_c: Any, _topic: str, payload: bytes, _qos: int, _p: Any) -> int:
            self.seen(payload)
            return 0

        client.on_message = on_message
        subscribed = asyncio.Event()
        client.on_subscribe = lambda *_a: subscribed.set()
        await client.connect(self.broker.host, self.broker.port)
        if clean:
            client.subscribe(shared_subscription(self.group, ALL_DEVICES_FILTER), qos=1)
            await asyncio.wait_for(subscribed.wait(), 10)
        self.client = client

    def connect(self, *, clean: bool) -> None:
        self._call(self._connect(clean))

    def disconnect(self) -> None:
        assert self.client is not None
        self._call(self.client.disconnect())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def wait(predicate: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class Manager:
    service: services.HttpService
    proc: ManagedProcess

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.service.url}/api/v1/health", timeout=5).json()["ingest"]


class Bench:
    def __init__(self, sup: Supervisor, work: Path, args: argparse.Namespace) -> None:
        self.sup = sup
        self.args = args
        # Room for the whole drain-phase backlog of every persistent session.
        self.broker = services.mosquitto(
            work / "broker", max_queued_messages=args.messages * 2 + 10_000
        )
        sup.start(self.broker.spec)
        self.managers: list[Manager] = []
        for n in range(args.managers):
            service = services.fleet_manager(work / "manager", broker_url=self.broker.url)
            service.spec.env.update({"FLEET_MANAGER_CLIENT_ID": f"bench-fleet-manager-{n}",
                                     "FLEET_MANAGER_LOG_LEVEL": "WARNING"})
            service.spec.name = f"fleet-manager-{n}"
            self.managers.append(Manager(service, sup.start(service.spec)))
        # Each baseline in its own share group: it receives every message too.
        self.baseline = GmqttBaseline(self.broker, "bench-baseline")
        self.paho = PahoBaseline(self.broker, "bench-paho")
        for baseline in (self.baseline, self.paho):
            baseline.connect(clean=True)
        self.publisher = connect(self.broker, "bench-publisher", clean=True)
        self.terminals = [VirtualTerminal(d, site="bench-hall")
                          for d in device_ids(args.terminals, "BENCH")]

    def ingested(self) -> int:
        return sum(m.stats()["ingested"] for m in self.managers)

    def next_health(self, i: int) -> tuple[str, bytes]:
        terminal = self.terminals[i % len(self.terminals)]
        now = utc_now()
        [health] = terminal.core.health_due(terminal.report(now), now)
        return health.topic, health.payload

    def live_phase(self) -> dict[str, Any]:
        now = utc_now()
        for terminal in self.terminals:
            terminal.connecting(now)
            for birth in terminal.connected(now):
                self.publisher.publish(birth.topic, birth.payload, qos=1)
        wait(lambda: self.ingested() >= len(self.terminals), "births", 60)
        assert self.baseline.latency_ms is not None
        self.baseline.latency_ms.clear()
        rate = self.args.live_rate
        start = time.monotonic()
        for i in range(self.args.live_messages):
            self.publisher.publish(*self.next_health(i), qos=1)
            pause = start + (i + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the publisher (a benchmark, not a test)
        total = len(self.terminals) + self.args.live_messages
        wait(lambda: self.ingested() >= total, "the live phase", 60)
        wait(lambda: self.baseline.count >= total, "the baseline's live phase", 60)
        wait(lambda: self.paho.count >= total, "the paho baseline's live phase", 60)
        # One manager's window is enough for the percentiles at this rate.
        live = self.managers[0].stats()["health_latency_ms"]
        base = sorted(self.baseline.latency_ms)
        return {
            "live_msgs_per_s": rate,
            "live_p50_ms": _round(live["p50"]),
            "live_p99_ms": _round(live["p99"]),
            "baseline_live_p50_ms": _round(percentile(base, 0.50)),
            "baseline_live_p99_ms": _round(percentile(base, 0.99)),
        }

    def drain_phase(self) -> dict[str, Any]:
        messages = self.args.messages
        for baseline in (self.baseline, self.paho):
            baseline.disconnect()
        for m in self.managers:  # persistent sessions: the broker queues their shares
            m.proc.stop()
            self.sup.processes.remove(m.proc)
        payloads = [self.next_health(i) for i in range(messages)]
        t0 = time.monotonic()
        infos = [self.publisher.publish(topic, data, qos=1) for topic, data in payloads]
        for info in infos:
            info.wait_for_publish(120)
        publish_rate = messages / (time.monotonic() - t0)

        # All at once: started one after the other, the first would drain its share while the
        # next one boots, and the rate would measure process start-up.
        for m in self.managers:
            m.proc = ManagedProcess(m.service.spec, self.sup.log_dir)
            self.sup.processes.append(m.proc)
            m.proc.start()
        for m in self.managers:
            m.proc.wait_ready()
        wait(lambda: self.ingested() >= messages, "the managers to drain", 180)
        stats = [m.stats() for m in self.managers]
        first = min(s["first_received_at"] for s in stats)
        last = max(s["last_committed_at"] for s in stats)
        ingest_rate = messages / (last - first)

        rates = {}
        for baseline in (self.baseline, self.paho):  # one at a time: each has the machine
            baseline.reset()
            baseline.connect(clean=False)
            wait(lambda b=baseline: b.count >= messages, f"{baseline.group} to drain", 180)
            rates[baseline.group] = baseline.rate(messages)
            baseline.disconnect()
        self.baseline.close()
        baseline_rate = rates[self.baseline.group]
        close(self.publisher)
        return {
            "ingest_msgs_per_s": round(ingest_rate),
            "baseline_msgs_per_s": round(baseline_rate),
            "ratio": round(ingest_rate / baseline_rate, 3),
            "paho_baseline_msgs_per_s": round(rates[self.paho.group]),
            "publish_msgs_per_s": round(publish_rate),
            "payload_bytes": len(payloads[0][1]),
        }

    def verify(self) -> bool:
        """Every terminal online in the registry with its newest health."""
        url = self.managers[0].service.url
        items = httpx.get(f"{url}/api/v1/devices", params={"limit": 1000},
                          timeout=10).json()["items"]
        last_seq = {t.device_id: t.core.health_seq for t in self.terminals}
        return len(items) == len(self.terminals) and all(
            d["online"] and d["health"]["seq"] == last_seq[d["id"]] for d in items
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--terminals", type=int, default=200)
    # Two by default: one manager process is bound to one core by the GIL; the issue allows
    # several on the shared subscription.
    parser.add_argument("--managers", type=int, default=2, help="manager processes sharing "
                        "the subscription and the database")
    parser.add_argument("--live-messages", type=int, default=2_000)
    parser.add_argument("--live-rate", type=float, default=1_000.0, help="messages per second")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fleet-ingest-") as tmp, \
            Supervisor(Path(tmp) / "logs") as sup:
        bench = Bench(sup, Path(tmp), args)
        live = bench.live_phase()
        drain = bench.drain_phase()
        result = {"messages": args.messages, "terminals": args.terminals,
                  "managers": args.managers, **drain, **live,
                  "registry_verified": bench.verify()}
    result["duration_s"] = round(time.monotonic() - started, 1)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
