"""The agent's health collection: the kiosk probe, the edge probe and the host
(fleet.agent.health)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.health import (
    MAX_EDGE_HEALTH_BYTES,
    EdgeProbe,
    KioskProbe,
    parse_edge_health,
    system_health,
)
from fleet.agent.state import PeripheralMemory
from fleet.protocol import EdgeHealth
from tests.fleet.agent.support import EDGE_HEALTH, StubEdge, Trickler
from tests.fleet.support import FakeKiosk, kiosk_status


def test_kiosk_probe_reads_the_status_endpoint(tmp_path: Path) -> None:
    kiosk = FakeKiosk()
    kiosk.status = kiosk_status()
    kiosk.status["peripherals"]["printer"] = {"state": "paper-low?", "code": "paper-low"}
    kiosk.start()
    try:
        probe = KioskProbe(kiosk.url, 1.0, PeripheralMemory(tmp_path), expected=[])
        report = probe.report()
    finally:
        kiosk.stop()
    assert report.kiosk.reachable and report.kiosk.screen == "attract"
    assert probe.last_app_version == "2.3.4"
    assert report.peripherals["card_reader"].state == "ok"
    printer = report.peripherals["printer"]
    assert (printer.state, printer.code) == ("degraded", "paper-low")  # unknown state word

    # Kiosk gone, agent restarted: the peripherals it last reported are reported missing.
    probe = KioskProbe(kiosk.url, 0.5, PeripheralMemory(tmp_path), expected=["camera"])
    down = probe.report()
    assert not down.kiosk.reachable
    assert set(down.peripherals) == {"card_reader", "printer", "camera"}
    assert {(p.state, p.code) for p in down.peripherals.values()} == {
        ("missing", "kiosk-unreachable")
    }
    probe.close()


def test_system_health_is_plausible(tmp_path: Path) -> None:
    health = system_health(tmp_path)
    assert 0 <= health.memory_percent <= 100
    assert 0 <= health.disk_percent <= 100
    assert health.uptime_s > 0


def test_a_trickling_kiosk_is_given_up_at_the_deadline(tmp_path: Path) -> None:
    trickler = Trickler()
    probe = KioskProbe(f"http://127.0.0.1:{trickler.port}/status", 0.5, PeripheralMemory(tmp_path),
                       expected=["card_reader"])
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(probe.report().kiosk.reachable))
    try:
        worker.start()
        worker.join(10)  # per-read timeouts alone would never end: a byte comes every 0.2 s
        assert done == [False]
    finally:
        trickler.close()



# -- the edge's health (agent.edge_url) --------------------------------------------------------

@pytest.fixture
def edge() -> Iterator[StubEdge]:
    stub = StubEdge(json.dumps(EDGE_HEALTH).encode())
    yield stub
    stub.close()


def test_edge_probe_reports_the_edges_health(edge: StubEdge) -> None:
    probe = EdgeProbe(edge.url, 1.0)
    assert probe.report() == EdgeHealth(
        reachable=True, central_reachable=False, outbox_depth=12, oldest_pending_age_s=30.5,
        dead_letters=1, outbox_full=False, cache_hit_ratio=0.75)
    assert edge.paths == ["/api/v1/health"]
    probe.close()


def test_an_unreachable_edge_is_reported_as_such(edge: StubEdge) -> None:
    url = edge.url
    edge.close()
    assert EdgeProbe(url, 0.5).report() == EdgeHealth(reachable=False)


def test_an_oversized_edge_answer_is_not_read(edge: StubEdge) -> None:
    edge.body = json.dumps({**EDGE_HEALTH, "pad": "x" * MAX_EDGE_HEALTH_BYTES}).encode()
    assert EdgeProbe(edge.url, 1.0).report() == EdgeHealth(reachable=False)


def test_a_trickling_edge_is_given_up_at_the_deadline() -> None:
    trickler = Trickler()
    done: list[EdgeHealth] = []
    probe = EdgeProbe(f"http://127.0.0.1:{trickler.port}", 0.5)
    worker = threading.Thread(target=lambda: done.append(probe.report()))
    try:
        worker.start()
        worker.join(10)
        assert done == [EdgeHealth(reachable=False)]
    finally:
        trickler.close()


def test_an_older_edge_without_outbox_gives_nulls_without_complaint() -> None:
    health, refused = parse_edge_health(b'{"status": "ok", "version": "0.2", "central": "unknown"}')
    assert refused == []
    assert health == EdgeHealth(reachable=True)  # every metric null, central unknown too


BAD_FIELDS = [
    (("outbox", "depth"), "12", "outbox_depth"),
    (("outbox", "depth"), -1, "outbox_depth"),
    (("outbox", "depth"), 2**63, "outbox_depth"),
    (("outbox", "depth"), True, "outbox_depth"),
    (("outbox", "depth"), 1.5, "outbox_depth"),
    (("outbox", "oldest_pending_age_s"), -3, "oldest_pending_age_s"),
    (("outbox", "oldest_pending_age_s"), float("nan"), "oldest_pending_age_s"),
    (("outbox", "dead_letters"), [], "dead_letters"),
    (("outbox", "full"), "no", "outbox_full"),
    (("cache_hit_ratio",), 1.5, "cache_hit_ratio"),
    (("cache_hit_ratio",), "0.5", "cache_hit_ratio"),
    (("central",), "sideways", "central_reachable"),
    (("central",), None, "central_reachable"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_FIELDS,
                         ids=[f"{'.'.join(p)}={v!r}" for p, v, _ in BAD_FIELDS])
def test_a_bad_field_is_refused_alone(path: tuple[str, ...], value: Any, field: str) -> None:
    doc = json.loads(json.dumps(EDGE_HEALTH))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    health, refused = parse_edge_health(json.dumps(doc).encode())
    assert refused == [field]
    assert getattr(health, field) is None
    good, _ = parse_edge_health(json.dumps(EDGE_HEALTH).encode())
    assert health == good.model_copy(update={field: None}), "the other fields are kept"


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"status": "down"}',
                                  b"[" * 100_000, json.dumps({"outbox": {}}).encode()])
def test_a_body_that_is_no_edge_health_refuses_every_field(body: bytes) -> None:
    health, refused = parse_edge_health(body)
    assert (health, refused) == (EdgeHealth(reachable=True), ["document"])


def test_the_edge_probe_logs_refusals_once_per_change(edge: StubEdge, caplog) -> None:
    edge.body = json.dumps({**EDGE_HEALTH, "cache_hit_ratio": 7}).encode()
    probe = EdgeProbe(edge.url, 1.0)
    for _ in range(3):
        assert probe.report().cache_hit_ratio is None
    assert caplog.text.count("fields refused") == 1
