"""Outbox drain rate into the central simulator, beside the simulator's raw ingest rate, on
SQLite and on PostgreSQL.

    python -m benchmarks.outbox [--records 10000] [--no-pg]

For each database:
1. The central simulator starts in an outage (`--outage`) and the edge (`kioskctl edge`) on that
   database. Kiosks submit `--records` card loss reports through the edge API
   (`POST /api/v1/card-loss/reports`, one Idempotency-Key each): every receipt says "queued".
2. Central recovers (its faults are cleared): t0. The relay drains the outbox; the benchmark
   polls the simulator's ingest counter (first record: t1) and the edge's outbox depth (empty:
   t2). `drain_per_s` = records / (t2 - t1); `recovery_s_10k` = t2 - t0, the time from central
   recovery to an empty outbox (10,000 records by default).
3. Baseline, `central_raw_per_s`: a fresh simulator process, the same records (same kind and
   payloads, the benchmark's own submission keys) posted straight to /central/v1/submissions in
   batches of 100, one call after the other as the relay does: what the simulator can ingest.

PostgreSQL is a private server (initdb on a free port, tests/harness/postgres.py). Prints one
JSON line; keys with `_pg` are the PostgreSQL run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from common.clock import iso_utc, utc_now
from common.device_token import device_token
from simulators.stack import services
from simulators.stack.supervisor import Supervisor

HALL_SECRET = secrets.token_urlsafe(24)  # a throwaway hall
DEVICES = [f"bench-{n:03d}" for n in range(40)]
BATCH = 100
SEED = 42  # the simulator's default population seed
OPERATOR_KEY = secrets.token_urlsafe(16)
EDGE_ENV = {
    "EDGE_LOG_LEVEL": "WARNING",
    "EDGE_OPERATOR_API_KEY": OPERATOR_KEY,  # its outbox view counts when asked
    "EDGE_OUTBOX_SYNC_WAIT_S": "0",  # the receipt at once: central is down during the enqueue
    "EDGE_PIN_DEVICE_BURST": "1000000", "EDGE_PIN_DEVICE_PER_S": "100000",
    "EDGE_PIN_CITIZEN_BURST": "100", "EDGE_PIN_CITIZEN_PER_S": "100",
}


def _wait(predicate: Any, what: str, timeout: float, every: float = 0.01) -> float:
    """Poll until `predicate()` is true; the monotonic time it was first seen true."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)  # pacing a poll (a benchmark, not a test)


class Citizens:
    """The loss reports' citizens: normal cards. Their service PINs are derived as the
    simulator derives them (its /sim/v1 detail answers one citizen per call)."""

    def __init__(self, central_url: str, count: int, seed: int) -> None:
        from simulators.central.profiles import service_pin

        with httpx.Client(base_url=central_url, timeout=30) as http:
            found: list[dict[str, Any]] = []
            offset: int | None = 0
            while offset is not None and len(found) < count:
                page = http.get("/sim/v1/citizens", params={
                    "offset": offset, "limit": 500, "card_status": "normal"}).json()
                found.extend(page["items"])
                offset = page["next_offset"]
            if len(found) < count:
                raise RuntimeError(f"only {len(found)} citizens with a normal card; raise "
                                   "--population")
            found = found[:count]
            # One check against the simulator that the derivation is still its own.
            first = http.get(f"/sim/v1/citizens/{found[0]['index']}").json()["service_pin"]
        if first != service_pin(seed, int(found[0]["index"])):
            raise RuntimeError("the simulator's service PINs are not derived as expected")
        self.payloads = [{"citizen_id": c["citizen_id"], "pin": service_pin(seed, c["index"])}
                         for c in found]


def central_raw(sup: Supervisor, work: Path, args: argparse.Namespace,
                payloads: list[dict[str, Any]]) -> float:
    """Records per second the simulator ingests from one caller posting batches of 100."""
    central = services.central_sim(population=args.population, data_dir=work / "raw-central",
                                   name=f"raw-central-{len(sup.processes)}")
    proc = sup.start(central.spec)
    items = [{"submission_key": f"sub_{uuid.uuid4().hex}", "kind": "card-loss-report",
              "device_id": DEVICES[n % len(DEVICES)], "submitted_at": iso_utc(utc_now()),
              "payload": p} for n, p in enumerate(payloads)]
    auth = {"Authorization": f"Bearer {services.CENTRAL_API_KEY}"}
    with httpx.Client(base_url=central.url, timeout=60, headers=auth) as http:
        start = time.monotonic()
        for i in range(0, len(items), BATCH):
            r = http.post("/central/v1/submissions", json={"items": items[i:i + BATCH]})
            r.raise_for_status()
        elapsed = time.monotonic() - start
    proc.stop()
    sup.processes.remove(proc)
    return len(items) / elapsed


class Enqueuer:
    """Kiosks submitting loss reports through the edge API."""

    def __init__(self, edge_url: str) -> None:
        expiry = utc_now() + dt.timedelta(days=1)
        self.edge_url = edge_url
        self.tokens = {d: device_token(HALL_SECRET, d, expiry) for d in DEVICES}
        self.local = threading.local()

    def _client(self) -> httpx.Client:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(base_url=self.edge_url, timeout=30)
        return client  # type: ignore[no-any-return]

    def submit(self, job: tuple[int, dict[str, Any]]) -> str:
        n, payload = job
        device = DEVICES[n % len(DEVICES)]
        r = self._client().post("/api/v1/card-loss/reports", json=payload, headers={
            "Authorization": f"Bearer {self.tokens[device]}",
            "Idempotency-Key": f"bench-{n}"})
        if r.status_code != 201:
            raise RuntimeError(f"enqueue {n}: {r.status_code} {r.text[:300]}")
        return str(r.json()["state"])

    def run(self, payloads: list[dict[str, Any]], threads: int) -> float:
        start = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            states = set(pool.map(self.submit, enumerate(payloads)))
        if states != {"queued"}:
            raise RuntimeError(f"receipts while central was down: {states}")
        return len(payloads) / (time.monotonic() - start)


def drain(sup: Supervisor, work: Path, args: argparse.Namespace, database_url: str | None,
          tag: str) -> dict[str, Any]:
    central = services.central_sim(population=args.population, data_dir=work / f"central-{tag}",
                                   extra_args=["--outage"], name=f"central-{tag}")
    sup.start(central.spec)
    edge = services.edge(work / f"edge-{tag}", central_url=central.url, hall_secret=HALL_SECRET,
                         database_url=database_url, extra_env=EDGE_ENV)
    sup.start(edge.spec)
    payloads = Citizens(central.url, args.records, SEED).payloads
    enqueue_rate = Enqueuer(edge.url).run(payloads, args.threads)

    with httpx.Client(timeout=10) as http:
        def depth() -> int:
            return int(http.get(f"{edge.url}/api/v1/operator/outbox", headers={
                "Authorization": f"Bearer {OPERATOR_KEY}"}).json()["depth"])

        def received() -> int:
            return int(http.get(f"{central.url}/sim/v1/ingest").json()["received"])

        if depth() != len(payloads):
            raise RuntimeError(f"outbox depth {depth()} != {len(payloads)} queued")
        http.put(f"{central.url}/sim/v1/faults", json={}).raise_for_status()
        t0 = time.monotonic()
        t1 = _wait(lambda: received() > 0, "the first record at central", 120)
        t2 = _wait(lambda: depth() == 0, "an empty outbox", 600, every=0.05)
        recorded = int(http.get(f"{central.url}/sim/v1/ingest").json()["recorded"])
    central_raw_rate = central_raw(sup, work, args, payloads)
    return {
        "drain_per_s": round(len(payloads) / max(t2 - t1, 1e-6)),
        "central_raw_per_s": round(central_raw_rate),
        # Scaled to 10,000 records when --records asks for another number (a quick run).
        "recovery_s_10k": round((t2 - t0) * 10_000 / len(payloads), 2),
        "enqueue_per_s": round(enqueue_rate),
        "recorded_all": recorded == len(payloads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--population", type=int, default=15_000)
    parser.add_argument("--threads", type=int, default=16, help="kiosk threads enqueueing")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    started = time.monotonic()
    result: dict[str, Any] = {"records": args.records}
    with tempfile.TemporaryDirectory(prefix="outbox-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        sup = stack.enter_context(Supervisor(work / "logs"))
        result.update(drain(sup, work, args, None, "sqlite"))
        if not args.no_pg:
            from tests.harness.postgres import postgres_server

            url = stack.enter_context(postgres_server())
            pg = drain(sup, work, args, url, "pg")
            result.update({f"{k}_pg": v for k, v in pg.items()})
        sup.stop_all()  # before the PostgreSQL server stops (ExitStack: reverse order)
    result["duration_s"] = round(time.monotonic() - started, 1)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
