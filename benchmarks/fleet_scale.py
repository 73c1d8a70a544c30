"""10,000 connected virtual terminals in one process, beside bare paho clients doing the same.

    python -m benchmarks.fleet_scale [--terminals 10000] [--baseline-clients 2000]

1. Fleet: `simulators.fleet.BrokerFleet` (every terminal its own MQTT connection with its own
   Will, on `--loops` threads through paho's external-loop API, the agent's core behind each)
   connects to a private Mosquitto; `connect_s` is until every terminal is subscribed and has
   published its birth and first health; `kb_per_terminal` is the process's RSS growth over
   that, per terminal.
2. Baseline: bare paho clients, each as paho is normally used (its own `loop_start` thread),
   doing the same connect: Will set, CONNECT, SUBSCRIBE to its command topic, one publish. Fewer
   of them (`--baseline-clients`, at most 300), and their time scaled to the fleet's count
   (`baseline_connect_s_scaled`, linear): paho's own loop watches its sockets with select(),
   which cannot watch a descriptor past 1023, and each paho client holds three (its socket and
   a socket pair to wake its loop); past ~330 clients in one process the bare library's
   clients time out at the broker (measured: 2,000 never all connected). The simulator drives
   paho's external-loop API from an epoll selector instead.

Each phase runs in its own child process (spawned), so one phase's freed memory does not flatter
the other's RSS. This process lifts its open-file limit to the hard limit before it starts the
broker, which inherits it; the broker's config sets no `max_connections` (unlimited), and its
effective descriptor limit is read from /proc and printed (`broker_fd_limit`). Prints one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LIMIT_S = 300.0
#: Bare paho clients in one process: their descriptors must stay below select()'s 1024.
MAX_BASELINE_CLIENTS = 300


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def fd_limit(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


def fleet_phase(host: str, port: int, n: int, loops: int) -> dict[str, Any]:
    from simulators.fleet.broker_fleet import BrokerFleet

    before = rss_kb()
    fleet = BrokerFleet(host, port, n, loops=loops, health_interval_s=3600)
    start = time.perf_counter()
    fleet.start()
    try:
        online = fleet.wait(lambda c: c["online"] >= n, LIMIT_S)
        connect_s = time.perf_counter() - start
        grown = rss_kb() - before
        counters = dict(fleet.counters)
    finally:
        fleet.stop(timeout=60)
    return {"connected": counters["online"], "all_connected": online,
            "connect_s": round(connect_s, 2), "rss_growth_kb": grown,
            "kb_per_terminal": round(grown / n, 1), "refused": counters["refused"],
            "connect_errors": counters["connect_errors"], "published": counters["published"]}


def baseline_phase(host: str, port: int, n: int) -> dict[str, Any]:
    import paho.mqtt.client as paho

    from fleet.protocol import Channel, device_topic

    before = rss_kb()
    done = threading.Semaphore(0)
    clients: list[paho.Client] = []
    start = time.perf_counter()
    for i in range(n):
        device_id = f"BASE-{i:05d}"
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=device_id,
                        protocol=paho.MQTTv5)
        c.will_set(device_topic(device_id, Channel.DEATH), b'{"bare": "will"}', qos=1)
        c.on_connect = lambda cl, _u, _f, _rc, _p, d=device_id: cl.subscribe(
            device_topic(d, Channel.COMMAND), qos=1)
        c.on_subscribe = lambda cl, *_a, d=device_id: (
            cl.publish(device_topic(d, Channel.BIRTH), b'{"bare": "birth"}', qos=1),
            done.release())
        c.connect(host, port, keepalive=60)
        c.loop_start()
        clients.append(c)
    got = 0
    deadline = time.monotonic() + LIMIT_S
    while got < n and done.acquire(timeout=max(0.0, deadline - time.monotonic())):
        got += 1
    connect_s = time.perf_counter() - start
    grown = rss_kb() - before
    for c in clients:
        c.disconnect()
        c.loop_stop()
    return {"baseline_connected": got, "baseline_connect_s": round(connect_s, 2),
            "baseline_kb_per_client": round(grown / n, 1)}


def _child(target: Any, args: tuple[Any, ...], out: Any) -> None:
    try:
        out.put(target(*args))
    except BaseException as exc:  # the parent reports it
        out.put({"error": repr(exc)})


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, out))
    proc.start()
    try:
        result = out.get(timeout=LIMIT_S + 120)
    finally:
        proc.join(60)
        if proc.is_alive():
            proc.kill()
    if "error" in result:
        raise RuntimeError(f"{target.__name__}: {result['error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--baseline-clients", type=int, default=MAX_BASELINE_CLIENTS)
    args = parser.parse_args()
    from simulators.fleet.broker_fleet import FD_MARGIN, raise_fd_limit
    from simulators.stack import services
    from simulators.stack.supervisor import Supervisor

    n = args.terminals
    base_n = min(args.baseline_clients, args.terminals, MAX_BASELINE_CLIENTS)
    # Before the broker starts: it inherits the limit (one descriptor per connection).
    raise_fd_limit(n + FD_MARGIN)
    with tempfile.TemporaryDirectory(prefix="fleet-scale-") as tmp, \
            Supervisor(Path(tmp) / "logs") as sup:
        broker = services.mosquitto(Path(tmp) / "mosquitto")
        conf = (Path(tmp) / "mosquitto" / "mosquitto.conf").read_text()
        if "max_connections" in conf:
            raise RuntimeError("the broker's config limits connections; see services.mosquitto")
        proc = sup.start(broker.spec)
        broker_fds = fd_limit(proc.pid)
        if broker_fds is not None and broker_fds < n + 64:
            raise RuntimeError(f"the broker may open {broker_fds} files, {n} terminals need more")
        fleet = in_child(fleet_phase, broker.host, broker.port, n, args.loops)
        base = in_child(baseline_phase, broker.host, broker.port, base_n)
    scaled = base["baseline_connect_s"] * n / base_n
    result = {
        "terminals": n, **fleet, **base, "baseline_clients": base_n,
        "baseline_connect_s_scaled": round(scaled, 2),
        "ratio_kb": round(fleet["kb_per_terminal"] / base["baseline_kb_per_client"], 2)
        if base["baseline_kb_per_client"] else None,
        "ratio_connect": round(fleet["connect_s"] / scaled, 2) if scaled else None,
        "loops": args.loops, "broker_fd_limit": broker_fds,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
