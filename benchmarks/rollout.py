"""A rollout to 1,000 simulated terminals in three groups, against a real manager process on a
private Mosquitto, beside the bare MQTT round trip of the same commands and answers.

    python -m benchmarks.rollout [--terminals 1000]

1. Baseline: one client publishes an `update` command to each terminal and waits for every
   terminal's final `hrss.job/1` answer (the same simulated terminals answer; no manager yet).
2. Rollout: the terminals announce themselves to a real `kioskctl fleet manager`; a rollout
   (groups 10 %, 30 %, the rest; 100 % success threshold) is created over REST and polled until
   it finishes: every decision goes through the registry, the state machine and its locked
   transactions, the command store and the job ingest.

The terminals are simple MQTT clients in this process (tests/fleet/manager/rollouts/terminals.py)
that answer `update` at once with job messages; downloads from the artifact store are not part
of it (no agent runs updates on the simulator's core yet). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho

from common.clock import utc_now
from fleet.protocol import Channel, Command, JobUpdate, decode_for_channel, device_topic, encode
from simulators.stack import services
from simulators.stack.supervisor import Supervisor
from tests.fleet.manager.rollouts.terminals import FakeTerminals

LIMIT_S = 120.0


def baseline(broker: services.Mosquitto, n: int) -> float:
    """Seconds from the first command to the last final job answer, bare MQTT."""
    ids = [f"B-{i:05d}" for i in range(n)]
    fleet = FakeTerminals(broker.url, ids, client_id="bench-baseline-terminals")
    host, port = broker.url.removeprefix("mqtt://").split(":")
    done: set[str] = set()
    cond = threading.Condition()

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        job = decode_for_channel(Channel.JOB, msg.payload)
        if isinstance(job, JobUpdate) and job.state.final:
            with cond:
                done.add(job.job_id)
                cond.notify_all()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-baseline",
                         protocol=paho.MQTTv5)
    client.max_inflight_messages_set(0)
    client.on_message = on_message
    ready, subscribed = threading.Event(), threading.Event()
    client.on_connect = lambda *_a: ready.set()
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(host, int(port))
    client.loop_start()
    try:
        assert ready.wait(10)
        client.subscribe("hrss/v1/dev/+/job", qos=1)
        assert subscribed.wait(10)
        expires = utc_now() + timedelta(hours=1)
        start = time.perf_counter()
        for i, d in enumerate(ids):
            client.publish(device_topic(d, Channel.COMMAND), encode(Command(
                device_id=d, id=f"b{i}", name="update", expires_at=expires,
                args={"target": "kiosk/k.tar.gz", "version": "1.4.0"})), qos=1)
        with cond:
            assert cond.wait_for(lambda: len(done) >= n, LIMIT_S), f"{len(done)} of {n}"
        return time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()
        fleet.close()


def rollout(sup: Supervisor, workdir: Path, broker: services.Mosquitto, n: int) -> dict[str, Any]:
    manager = services.fleet_manager(workdir / "manager", broker_url=broker.url)
    manager.spec.env["FLEET_MANAGER_ROLLOUT_TICK_S"] = "0.2"
    sup.start(manager.spec)
    api = manager.url + "/api/v1"
    ids = [f"R-{i:05d}" for i in range(n)]
    fleet = FakeTerminals(broker.url, ids, client_id="bench-rollout-terminals")
    try:
        fleet.announce()
        deadline = time.monotonic() + 60
        while True:  # every terminal born at the manager
            seen, after = 0, None
            while True:
                page = httpx.get(f"{api}/devices", params={"limit": 1000, "after": after},
                                 timeout=10).json()
                seen += sum(1 for d in page["items"] if d["app_version"])
                after = page["next_after"]
                if after is None:
                    break
            if seen >= n:
                break
            assert time.monotonic() < deadline, f"{seen} of {n} terminals born"
            time.sleep(0.2)
        body = {"name": "bench", "target": "kiosk/hrss-kiosk-1.4.0.tar.gz", "version": "1.4.0",
                "groups": ["10%", "30%", "rest"], "seed": 1}
        start = time.perf_counter()
        r = httpx.post(f"{api}/rollouts", json=body, headers={"Idempotency-Key": "bench"},
                       timeout=30)
        r.raise_for_status()
        rollout_id = r.json()["id"]
        while True:
            state = httpx.get(f"{api}/rollouts/{rollout_id}", timeout=10).json()
            if state["finished_at"] is not None or state["state"] == "paused":
                break
            assert time.perf_counter() - start < LIMIT_S, state
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        updates = {c.command_id: c for c in fleet.of("update")}.values()
        per_device = Counter(c.device_id for c in updates)
        return {"seconds": round(seconds, 2), "state": state["state"],
                "groups": state["groups"], "succeeded": state["counts"].get("succeeded", 0),
                "updates_sent": len(updates),
                "terminals_updated_twice": sum(1 for v in per_device.values() if v > 1)}
    finally:
        fleet.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        workdir = Path(tmp)
        sup = Supervisor(workdir / "logs")
        try:
            broker = services.mosquitto(workdir / "mosquitto")
            sup.start(broker.spec)
            base = baseline(broker, args.terminals)
            result = rollout(sup, workdir, broker, args.terminals)
        finally:
            sup.stop_all()
    print(json.dumps({
        "terminals": args.terminals, **result,
        "baseline_seconds": round(base, 3),
        "ratio": round(result["seconds"] / base, 1) if base else None,
        "limit_s": LIMIT_S,
    }))


if __name__ == "__main__":
    main()
