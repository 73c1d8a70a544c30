"""`GET /metrics` as Prometheus scrapes it: the manager served by real uvicorn on real SQLite,
with no broker reachable (as in conftest.py), and messages handed to its ingest writer."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from common.clock import utc_now
from common.prometheus import CONTENT_TYPE
from fleet.manager.api import create_app
from fleet.manager.api.routes.metrics import MAX_SITES
from fleet.manager.models import CommandRecord
from fleet.manager.registry import Registry, queries
from fleet.manager.service import FleetManager
from fleet.manager.settings import FleetManagerSettings
from fleet.mqtt import IncomingMessage
from fleet.protocol import Channel, CommandResult, CommandStatus, Payload, device_topic, encode
from simulators.stack.ports import free_port
from tests.fleet.manager.support import S1, birth, death, health
from tests.harness.waiting import wait_for

P = "fleet_manager_"


@dataclass(frozen=True)
class Served:
    manager: FleetManager
    root: httpx.Client  # at the app root, where /metrics is
    api: httpx.Client  # under /api/v1


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """conftest.py's `api`, keeping the manager at hand to feed its writer and registry."""
    settings = FleetManagerSettings(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
        broker_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens
    )
    manager = FleetManager(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(manager), host="127.0.0.1", port=port, log_config=None, lifespan="on",
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the API to start", timeout=20)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=5) as root, \
            httpx.Client(base_url=f"{base}/api/v1", timeout=5) as api:
        yield Served(manager, root, api)
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive(), "the manager did not shut down"


class Acks:
    """Counts acknowledgements (the writer acks after it applied and counted)."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def message(self, topic: str, payload: bytes) -> IncomingMessage:
        def ack() -> None:
            with self._cond:
                self._count += 1
                self._cond.notify_all()

        return IncomingMessage(topic, payload, 1, ack=ack)

    def of(self, payload: Payload) -> IncomingMessage:
        return self.message(device_topic(payload.device_id, payload.CHANNEL), encode(payload))

    def wait(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self._count >= count, timeout), self._count


def scrape(client: httpx.Client) -> tuple[str, dict[str, float]]:
    """The text, and each series (name and labels, as written) to its value."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE
    values: dict[str, float] = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)  # label values may hold spaces, values never
            assert series not in values, f"duplicate series {series}"
            values[series] = float(value)
    return r.text, values


def _command(command_id: str, device_id: str, status: str) -> CommandRecord:
    now = utc_now()
    return CommandRecord(id=command_id, device_id=device_id, name="restart-kiosk", args={},
                         status=status, idempotency_key=command_id, request_hash="h",
                         issued_at=now, expires_at=now + timedelta(hours=1))


def test_the_idle_manager_says_what_it_knows(served: Served) -> None:
    text, values = scrape(served.root)
    assert text.endswith("\n")
    assert all(line.startswith(("# HELP fleet_manager_", "# TYPE fleet_manager_", P))
               for line in text.splitlines())
    assert values[f"{P}broker_connected"] == 0 and values[f"{P}broker_subscribed"] == 0
    assert values[f"{P}database_up"] == 1
    assert values[f"{P}messages_received_total"] == 0
    assert {k: v for k, v in values.items() if k.startswith(f"{P}messages_rejected_total")} == {
        f'{P}messages_rejected_total{{reason="{r}"}}': 0
        for r in ("topic", "decode", "device-mismatch", "session-ahead", "store-failed",
                  "too-large")}
    # No health stored yet: no latency to report.
    assert math.isnan(values[f"{P}health_latency_p50_seconds"])
    assert f"{P}health_latency_p99_seconds NaN\n" in text
    assert values[f'{P}commands{{status="pending"}}'] == 0
    assert values[f'{P}commands{{status="sent"}}'] == 0
    assert [k for k in values if k.startswith(f"{P}rollouts")] == [
        f'{P}rollouts{{state="{s}"}}' for s in ("running", "paused", "aborted", "succeeded")]
    assert f"# TYPE {P}devices gauge" in text
    assert not any(k.startswith(f"{P}devices{{") for k in values)  # no site yet
    # Where Prometheus looks by default, not under the REST prefix.
    assert served.api.get("/metrics").status_code == 404
    ops = served.api.get("/openapi.json").json()["paths"]["/metrics"]
    assert ops["get"]["operationId"] == "service-metrics"


def test_counters_move_after_ingesting_messages(served: Served) -> None:
    _, before = scrape(served.root)
    acks = Acks()
    writer = served.manager.writer
    for message in (
        acks.of(birth(S1, "T-1")),
        acks.of(health(S1, 1, "T-1")),
        acks.of(CommandResult(device_id="T-1", id="never-issued", status=CommandStatus.OK)),
        acks.message(device_topic("T-2", Channel.HEALTH), b"{not json"),
        acks.message("hrss/v1/elsewhere", b"{}"),
    ):
        writer.submit(message)
    acks.wait(5)
    text, after = scrape(served.root)
    assert before[f"{P}messages_received_total"] == 0
    assert after[f"{P}messages_received_total"] == 5
    assert after[f"{P}messages_ingested_total"] == 3
    assert after[f'{P}messages_rejected_total{{reason="decode"}}'] == 1
    assert after[f'{P}messages_rejected_total{{reason="topic"}}'] == 1
    assert after[f'{P}messages_rejected_total{{reason="device-mismatch"}}'] == 0
    assert after[f'{P}presence_messages_total{{outcome="accepted"}}'] == 1
    assert after[f'{P}command_results_total{{outcome="ignored"}}'] == 1
    assert after[f'{P}command_results_total{{outcome="applied"}}'] == 0
    assert 1 <= after[f"{P}ingest_batches_total"] <= 3
    assert after[f"{P}ingest_backlog"] == 0
    assert after[f"{P}db_errors_total"] == 0
    p50, p99 = after[f"{P}health_latency_p50_seconds"], after[f"{P}health_latency_p99_seconds"]
    assert 0 <= p50 <= p99 < 60
    assert after[f'{P}devices{{site="hall"}}'] == 1
    assert after[f'{P}devices_online{{site="hall"}}'] == 1
    assert "T-1" not in text and "T-2" not in text  # no device id, ever


def test_sites_are_bounded_and_escaped(served: Served) -> None:
    hostile = 'hall "north"\\east\nwing'
    big = [birth(S1, f"B-{i}").model_copy(update={"site": hostile}) for i in range(3)]
    # One device per invented site, more sites than are shown: the big one must stay by name.
    invented = [birth(S1, f"D-{i:03d}").model_copy(update={"site": f"s-{i:03d}"})
                for i in range(MAX_SITES + 3)]
    outcome = served.manager.registry.apply_batch([*big, *invented, death(S1, "B-0")],
                                                  utc_now())
    assert not outcome.rejected
    text, values = scrape(served.root)
    devices = {k: v for k, v in values.items() if k.startswith(f"{P}devices{{")}
    online = {k: v for k, v in values.items() if k.startswith(f"{P}devices_online{{")}
    assert len(devices) == len(online) == MAX_SITES + 1  # the named ones and "other"
    label = 'site="hall \\"north\\"\\\\east\\nwing"'
    assert values[f"{P}devices{{{label}}}"] == 3
    assert values[f"{P}devices_online{{{label}}}"] == 2
    # 1 big + 199 invented shown; 4 invented summed.
    assert values[f'{P}devices{{site="other"}}'] == 4
    assert values[f'{P}devices_online{{site="other"}}'] == 4
    assert sum(devices.values()) == 3 + MAX_SITES + 3
    assert "B-0" not in text and "D-000" not in text


def test_open_commands_and_rollouts_are_counted(served: Served) -> None:
    registry = served.manager.registry
    registry.apply_batch([birth(S1, "T-1"), birth(S1, "T-2")], utc_now())
    for command_id, status in (("c-1", "pending"), ("c-2", "pending"), ("c-3", "sent"),
                               ("c-4", "ok"), ("c-5", "timed-out")):
        registry.insert_command(_command(command_id, "T-2", status))
    _, values = scrape(served.root)
    assert values[f'{P}commands{{status="pending"}}'] == 2
    assert values[f'{P}commands{{status="sent"}}'] == 1
    assert not any('status="ok"' in k or "timed-out" in k for k in values)

    r = served.api.post("/rollouts", headers={"Idempotency-Key": "r-1"},
                        json={"name": "r", "target": "kiosk/k-1.4.0.tar.gz", "version": "1.4.0",
                              "filter": {"site": "hall"}})
    assert r.status_code in (200, 201, 202), r.text
    rollout_id = r.json()["id"]
    _, values = scrape(served.root)
    assert values[f'{P}rollouts{{state="running"}}'] == 1
    assert served.api.post(f"/rollouts/{rollout_id}/pause").status_code == 200
    _, values = scrape(served.root)
    assert values[f'{P}rollouts{{state="running"}}'] == 0
    assert values[f'{P}rollouts{{state="paused"}}'] == 1


def test_the_counts_are_aggregates_on_both_databases(registry: Registry) -> None:
    """The SQL the scrape sends, on SQLite and PostgreSQL (the route tests run on SQLite)."""
    payloads: list[Payload] = [birth(S1, f"A-{i}") for i in range(3)]
    payloads += [birth(S1, f"C-{i}").model_copy(update={"site": "cell"}) for i in range(2)]
    registry.apply_batch([*payloads, death(S1, "A-0")], utc_now())
    registry.insert_command(_command("c-1", "A-1", "pending"))
    registry.insert_command(_command("c-2", "A-1", "ok"))
    with Session(registry.db.read) as session:
        top = queries.devices_by_site(session, 1)
        assert [(s.site, s.devices, s.online) for s in top] == [("hall", 3, 2)]
        assert [(s.site, s.devices) for s in queries.devices_by_site(session, 5)] == [
            ("hall", 3), ("cell", 2)]
        totals = queries.device_totals(session)
        assert (totals.devices, totals.online) == (5, 4)
        assert queries.command_counts(session, ["pending", "sent"]) == {"pending": 1}
        assert queries.rollout_counts(session) == {}
