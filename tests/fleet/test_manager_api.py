"""The manager's REST API in-process, with no broker reachable: problem+json everywhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from fleet.manager.api import create_app
from fleet.manager.service import FleetManager
from fleet.manager.settings import FleetManagerSettings
from simulators.stack.ports import free_port
from tests.fleet.support import wait_for


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = FleetManagerSettings(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
        broker_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(FleetManager(settings)), host="127.0.0.1", port=port, log_config=None,
        lifespan="on",
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the API to start", timeout=20)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=5) as client:
        yield client
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive(), "the manager did not shut down"


def _problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return body


def test_health_says_not_ready_without_a_broker(api: httpx.Client) -> None:
    r = api.get("/health")
    body = _problem(r, 503, "not-ready")
    assert r.headers["Retry-After"] == "5"
    assert body["broker"]["connected"] is False
    assert body["database"] == {"ok": True}
    assert body["state"] == "degraded"


def test_empty_registry_and_errors(api: httpx.Client) -> None:
    assert api.get("/devices").json() == {"items": [], "next_after": None}
    _problem(api.get("/devices/T-1"), 404, "device-not-found")
    _problem(api.get("/devices/-bad"), 422, "validation-error")
    _problem(api.get("/commands/nope"), 404, "command-not-found")
    key = {"Idempotency-Key": "k1"}
    _problem(api.post("/devices/T-1/commands", json={"name": "ping"}, headers=key),
             404, "device-not-found")
    _problem(api.post("/devices/T-1/commands", json={"name": "ping", "x": 1}, headers=key),
             422, "validation-error")
    _problem(api.post("/devices/T-1/commands", json={"name": "ping"},
                      headers={"Idempotency-Key": "bad key!"}),
             400, "idempotency-key-required")
    assert api.get("/openapi.json").json()["info"]["title"] == "HRSS fleet manager"
