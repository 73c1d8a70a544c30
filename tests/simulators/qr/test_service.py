"""The control API (in-process) driving the pty, read by the real serial driver."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from drivers.base import HealthState
from drivers.qr.interface import CodeScanned, ScanRejected
from drivers.qr.serial import SerialQrScanner
from simulators.qr.pty import PtyScanner
from simulators.qr.service import create_app
from tests.drivers.qr.test_serial import Events


@pytest.fixture
def rig(tmp_path):
    with PtyScanner(tmp_path / "qr", seed=2) as pty:
        client = TestClient(create_app(pty))
        driver = SerialQrScanner(pty.path, debounce_s=0, prefix="]Q1")
        events = Events()
        driver.subscribe(events)
        driver.start()
        events.health(HealthState.OK)
        try:
            yield client, events
        finally:
            driver.stop()


def test_scan_noise_split_unplug_replug_through_the_api(rig):
    client, events = rig
    r = client.post("/sim/v1/scan", json={"text": "TOKEN-A", "prefix": "]Q1", "split": 4})
    assert r.status_code == 200 and r.json()["scans"] == 1
    assert events.next(CodeScanned).payload == b"TOKEN-A"
    client.post("/sim/v1/scan", json={"text": "TOKEN-B", "prefix": "]Q1", "noise_before": 12})
    assert events.next(ScanRejected).rejection == "garbled"
    assert client.post("/sim/v1/noise", json={"bytes": 100}).status_code == 200
    assert client.post("/sim/v1/unplug").json()["plugged"] is False
    events.health(HealthState.MISSING)
    r = client.post("/sim/v1/scan", json={"text": "TOKEN-C"})
    assert (r.status_code, r.json()["code"]) == (409, "unplugged")
    assert client.post("/sim/v1/replug").json()["plugged"] is True
    events.health(HealthState.OK)
    client.post("/sim/v1/scan", json={"text": "TOKEN-D", "prefix": "]Q1"})
    assert events.next(CodeScanned).payload == b"TOKEN-D"
    assert client.get("/sim/v1/status").json()["plugged"] is True


@pytest.mark.parametrize("body", [
    {}, {"text": ""}, {"text": "x", "terminator": "ETX"}, {"text": "x", "prefix": "\r"},
    {"text": "x", "split": 65}, {"text": "x", "split": 64, "gap_ms": 2000}, {"text": "x" * 5000},
])
def test_bad_requests_are_4xx_problems(rig, body):
    client, _ = rig
    r = client.post("/sim/v1/scan", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_a_huge_body_is_refused(rig):
    client, _ = rig
    r = client.post("/sim/v1/scan", content=b"{" + b" " * 20000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
