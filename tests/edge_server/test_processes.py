"""The edge server and the central simulator as real processes (`kioskctl edge`,
`kioskctl central-sim`), driven over HTTP: failures of either process, durability, privacy."""

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from common.sqlite import make_engine
from edge_server import audit, migrate
from edge_server.db import session_scope
from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor
from tests.edge_server.support import HALL_SECRET, PROBLEM, card_body, headers, new_key
from tests.harness.stack import supervised


@dataclass
class Stack:
    sup: Supervisor
    central: services.HttpService
    central_proc: ManagedProcess
    edge: services.HttpService
    edge_proc: ManagedProcess
    workdir: Path

    @property
    def db_path(self) -> Path:
        return self.workdir / "edge" / "edge.db"

    def citizen(self, n: int = 0, **filters) -> dict:
        page = httpx.get(f"{self.central.url}/sim/v1/citizens",
                         params={"limit": n + 1, **filters}).json()
        return page["items"][n]

    def faults(self, **faults) -> None:
        r = httpx.put(f"{self.central.url}/sim/v1/faults", json=faults)
        assert r.status_code == 200

    def open(self, citizen: dict, key: str | None = None, device: str = "kiosk-01",
             card_number: str | None = None) -> httpx.Response:
        return httpx.post(f"{self.edge.url}/api/v1/sessions", timeout=10,
                          json=card_body(citizen, card_number),
                          headers=headers(device, key or new_key()))

    def get(self, path: str, device: str = "kiosk-01") -> httpx.Response:
        return httpx.get(f"{self.edge.url}/api/v1{path}", headers=headers(device), timeout=10)

    def end(self, session_id: str, device: str = "kiosk-01") -> httpx.Response:
        return httpx.delete(f"{self.edge.url}/api/v1/sessions/{session_id}",
                            headers=headers(device, new_key()), timeout=10)

    def count(self, table: str) -> int:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(seed=42, population=2000, today="2026-11-22")
        central_proc = sup.start(central.spec)
        edge = services.edge(
            tmp_path / "edge", central_url=central.url, hall_secret=HALL_SECRET,
            # TTL 0: every call asks central, so a fault shows at once.
            extra_env={"EDGE_CACHE_TTL_S": "0", "EDGE_REVOKED_DEVICES": '["kiosk-revoked"]'})
        edge_proc = sup.start(edge.spec)
        yield Stack(sup, central, central_proc, edge, edge_proc, tmp_path)


def test_journey_and_nothing_personal_on_disk_or_in_logs(stack):
    citizen = stack.citizen(receiving_pension=True, card_status="normal")
    opened = stack.open(citizen)
    assert opened.status_code == 201, opened.text
    sid = opened.json()["session_id"]
    assert stack.get(f"/sessions/{sid}").json() == opened.json()
    benefits = stack.get(f"/sessions/{sid}/benefits")
    assert benefits.status_code == 200
    assert benefits.json()["pension_payments"][0]["period"] == "2026-11"
    assert stack.end(sid).status_code == 204
    assert stack.get(f"/sessions/{sid}").status_code == 404
    assert httpx.get(f"{stack.edge.url}/api/v1/health").json()["central"] == "reachable"

    secrets = [citizen["citizen_id"].encode(), citizen["name"].encode()]
    data = b"".join(p.read_bytes() for p in stack.db_path.parent.glob("edge.db*"))
    assert data and not [s for s in secrets if s in data]
    stack.sup.stop_all()
    data = b"".join(p.read_bytes() for p in stack.db_path.parent.glob("edge.db*"))
    assert not [s for s in secrets if s in data]
    edge_log = stack.edge_proc.log_path.read_text()
    assert "POST /api/v1/sessions" in edge_log and "opened" in edge_log
    for log in (edge_log, stack.central_proc.log_path.read_text()):
        assert citizen["citizen_id"] not in log
        assert citizen["name"] not in log


def _served_stale_then_503(stack, citizen, first, failed_at, stranger) -> None:
    again = stack.open(citizen)
    assert again.status_code == 201
    assert again.json()["stale"] is True
    # The cached answer's own time: from before central failed, not now.
    assert first["as_of"] <= again.json()["as_of"] <= failed_at
    benefits = stack.get(f"/sessions/{again.json()['session_id']}/benefits")
    assert benefits.status_code == 200 and benefits.json()["stale"] is True
    assert benefits.json()["as_of"] <= failed_at

    r = stack.open(stranger)
    assert r.status_code == 503
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["retry-after"] == "30"
    assert r.json()["code"] == "central-unavailable"
    assert stranger["citizen_id"] not in r.text


def test_central_outage_serves_stale_cache_else_503(stack):
    citizen, stranger = stack.citizen(receiving_pension=True), stack.citizen(3)
    first = stack.open(citizen).json()
    assert stack.get(f"/sessions/{first['session_id']}/benefits").status_code == 200
    failed_at = httpx.get(f"{stack.central.url}/central/v1/health").json()["as_of"]
    stack.faults(outage=True)
    _served_stale_then_503(stack, citizen, first, failed_at, stranger)
    stack.faults(outage=False)
    assert stack.open(citizen).json()["stale"] is False


def test_central_killed_serves_stale_cache_else_503(stack):
    citizen, stranger = stack.citizen(receiving_pension=True), stack.citizen(3)
    first = stack.open(citizen).json()
    assert stack.get(f"/sessions/{first['session_id']}/benefits").status_code == 200
    failed_at = httpx.get(f"{stack.central.url}/central/v1/health").json()["as_of"]
    stack.central_proc.kill()
    _served_stale_then_503(stack, citizen, first, failed_at, stranger)
    assert httpx.get(f"{stack.edge.url}/api/v1/health").json()["central"] == "unreachable"
    stack.central_proc = stack.sup.restart(stack.central_proc)
    assert stack.open(citizen).json()["stale"] is False


def test_central_slower_than_the_timeout_counts_as_unreachable(tmp_path):
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=500)
        sup.start(central.spec)
        edge = services.edge(tmp_path / "edge", central_url=central.url,
                             hall_secret=HALL_SECRET, extra_env={"EDGE_CENTRAL_TIMEOUT_S": "0.3"})
        sup.start(edge.spec)
        citizen = httpx.get(f"{central.url}/sim/v1/citizens/0").json()
        httpx.put(f"{central.url}/sim/v1/faults", json={"latency_ms": 1000})
        r = httpx.post(f"{edge.url}/api/v1/sessions", json=card_body(citizen),
                       headers=headers(key=new_key()), timeout=10)
        assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")


def test_edge_killed_and_restarted_keeps_sessions_and_replays(stack):
    citizen, key = stack.citizen(), new_key()
    first = stack.open(citizen, key=key)
    assert first.status_code == 201
    stack.edge_proc.kill()
    stack.edge_proc = stack.sup.restart(stack.edge_proc)

    replay = stack.open(citizen, key=key)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert stack.get(f"/sessions/{first.json()['session_id']}").json() == first.json()
    assert stack.count("service_session") == 1

    engine = make_engine(f"sqlite:///{stack.db_path}")
    try:
        with session_scope(engine, write=False) as db:
            report = audit.verify_chain(db)
    finally:
        engine.dispose()
    assert report.ok and report.entries == 1


def test_concurrent_requests_with_one_key_are_processed_once(stack):
    citizen, key = stack.citizen(), new_key()
    stack.faults(latency_ms=1000)  # the first request is surely in flight when the rest arrive
    barrier = threading.Barrier(6)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def attempt():
        barrier.wait(10)
        r = stack.open(citizen, key=key)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status_code for r in results)
    processed = [r for r in results
                 if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(processed) == 1, statuses
    assert 409 in statuses
    assert set(statuses) <= {201, 409}
    for r in results:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency-key-in-flight"
        else:
            assert r.content == processed[0].content
    assert stack.count("service_session") == 1


def test_refusals_over_http(stack):
    citizen = stack.citizen(card_status="normal")
    bad = citizen["citizen_id"][:17] + ("0" if citizen["citizen_id"][17] != "0" else "1")
    r = stack.open({**citizen, "citizen_id": bad})
    assert (r.status_code, r.json()["code"]) == (422, "invalid-citizen-id")
    assert r.headers["content-type"] == PROBLEM and bad not in r.text

    url = f"{stack.edge.url}/api/v1/sessions"
    r = httpx.post(url, json={"method": "card", "card": {"citizen_id": 42}},
                   headers=headers(key=new_key()))
    assert r.status_code == 422 and r.json()["code"] == "validation-error"
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {
        ("body", "card", "citizen_id"), ("body", "card", "card_number")}

    r = httpx.post(url, content=b"{" + b" " * 100_000 + b"}",
                   headers={**headers(key=new_key()), "Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (413, "payload-too-large")

    assert stack.open(citizen, device="kiosk-revoked").status_code == 401
    r = httpx.post(url, json=card_body(citizen),
                   headers={"Authorization": "Bearer dev1.kiosk-01.forged",
                            "Idempotency-Key": new_key()})
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")

    sid = stack.open(citizen, device="kiosk-01").json()["session_id"]
    r = stack.get(f"/sessions/{sid}", device="kiosk-02")
    assert (r.status_code, r.json()["code"]) == (404, "session-not-found")

    lost = stack.citizen(card_status="reported-lost")
    r = stack.open(lost)
    assert r.status_code == 403
    assert r.json()["code"] == "card-not-valid" and r.json()["card_status"] == "reported-lost"

    # Full-width digits passed the old shape check, then crashed an encoder (500).
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in citizen["citizen_id"])
    r = stack.open({**citizen, "citizen_id": wide})
    assert r.status_code == 422 and r.json()["code"] in ("validation-error", "invalid-citizen-id")
    r = httpx.request("PATCH", url, headers=headers(key=new_key()))
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    r = httpx.post(url, content=b"method=card", headers={
        **headers(key=new_key()), "Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["code"]) == (415, "unsupported-media-type")


def test_identify_limits_hold_across_threads_and_a_restart(tmp_path):
    """The buckets live in the database: shared by every worker thread, kept over a kill -9."""
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=500)
        sup.start(central.spec)
        edge = services.edge(tmp_path / "edge", central_url=central.url, hall_secret=HALL_SECRET,
                             extra_env={"EDGE_IDENTIFY_DEVICE_BURST": "5",
                                        "EDGE_IDENTIFY_DEVICE_PER_S": "0.001"})
        edge_proc = sup.start(edge.spec)
        citizen = httpx.get(f"{central.url}/sim/v1/citizens/0").json()
        url = f"{edge.url}/api/v1/sessions"
        barrier = threading.Barrier(12)
        statuses: list[int] = []
        lock = threading.Lock()

        def attempt():
            barrier.wait(10)
            r = httpx.post(url, json=card_body(citizen), headers=headers(key=new_key()),
                           timeout=20)
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=attempt) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(statuses) == [201] * 5 + [429] * 7

        edge_proc.kill()
        sup.restart(edge_proc)
        r = httpx.post(url, json=card_body(citizen), headers=headers(key=new_key()), timeout=10)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 900
        other = httpx.post(url, json=card_body(citizen), headers=headers("kiosk-02", new_key()),
                           timeout=10)
        assert other.status_code == 201


def test_two_edges_starting_at_once_on_a_new_database_both_come_up(tmp_path):
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=300)
        sup.start(central.spec)
        specs = [services.edge(tmp_path / "edge", central_url=central.url,
                               hall_secret=HALL_SECRET) for _ in range(2)]
        # Both started before either is ready: their migrations run at the same moment.
        procs = [ManagedProcess(s.spec, sup.log_dir) for s in specs]
        sup.processes.extend(procs)  # the supervisor stops them
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()
        citizen = httpx.get(f"{central.url}/sim/v1/citizens/0").json()
        for spec in specs:
            r = httpx.post(f"{spec.url}/api/v1/sessions", json=card_body(citizen),
                           headers=headers(key=new_key()), timeout=10)
            assert r.status_code == 201, r.text
        with sqlite3.connect(tmp_path / "edge" / "edge.db") as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (migrate.head(),)]
        for proc in procs:
            assert "Traceback" not in proc.log_path.read_text()
