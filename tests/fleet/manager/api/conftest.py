"""The manager's REST API in-process (real uvicorn, real SQLite), with no broker reachable."""

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
from tests.harness.waiting import wait_for


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


def problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return body
