"""`PUT/GET /devices/{id}/config` in-process (real uvicorn, real SQLite, no broker): the
allow-list, revisions, supersession, drift, and the device view's health fields."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from common.clock import utc_now
from fleet.manager.api import create_app
from fleet.manager.service import FleetManager
from fleet.manager.settings import FleetManagerSettings
from fleet.protocol import Birth, CommandResult, CommandStatus, Health
from simulators.stack.ports import free_port
from tests.fleet.manager.api.conftest import problem
from tests.fleet.manager.support import S1, S2, birth, health
from tests.harness.waiting import wait_for

DEV = "T-0001"


@dataclass
class Api:
    client: httpx.Client
    manager: FleetManager

    def apply(self, *payloads: Any) -> None:
        self.manager.registry.apply_batch(list(payloads), utc_now())


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = FleetManagerSettings(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
        broker_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens: commands stay pending
    )
    manager = FleetManager(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(manager), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the API to start", timeout=20)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10) as client:
        yield Api(client, manager)
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive(), "the manager did not shut down"


def _birth(seq: int, revision: int = 0, **values: Any) -> Birth:
    b = birth(seq, device_id=DEV)
    return Birth.model_validate({**b.model_dump(), "config": {
        "revision": revision, "values": {"health_interval_s": 1.0, **values}}})


def _put(api: Api, desired: dict[str, Any], **extra: Any) -> httpx.Response:
    return api.client.put(f"/devices/{DEV}/config", json={"desired": desired, **extra})


def test_errors(api: Api) -> None:
    problem(_put(api, {"health_interval_s": 30}), 404, "device-not-found")
    problem(api.client.get(f"/devices/{DEV}/config"), 404, "device-not-found")
    api.apply(_birth(S1))
    body = problem(_put(api, {"health_interval_s": "30", "kiosk_volume": 3,
                              "maintenance_window": "8-9", "log_level": None}),
                   422, "config-invalid")
    assert set(body["errors"]) == {"health_interval_s", "kiosk_volume", "maintenance_window",
                                   "log_level"}
    problem(_put(api, {"health_interval_s": 0}), 422, "config-invalid")
    problem(_put(api, {}, extra=1), 422, "validation-error")
    problem(api.client.put(f"/devices/{DEV}/config", json={"desired": [1]}), 422,
            "validation-error")
    problem(_put(api, {f"k{i}": 1 for i in range(40)}), 422, "validation-error")
    # Nothing was stored by any of them.
    assert api.client.get(f"/devices/{DEV}/config").json()["revision"] == 0


def test_desired_reported_and_drift(api: Api) -> None:
    api.apply(_birth(S1))
    initial = api.client.get(f"/devices/{DEV}/config").json()
    assert initial["reported"]["revision"] == 0 and initial["desired"] == {}
    assert initial["in_sync"]

    first = _put(api, {"health_interval_s": 30, "log_level": "DEBUG"})
    assert first.status_code == 200, first.text
    one = first.json()
    assert one["revision"] == 1 and one["drift"] == ["health_interval_s", "log_level"]
    assert not one["in_sync"]
    command = api.client.get(f"/commands/{one['command_id']}").json()
    assert command["name"] == "set-config" and command["status"] == "pending"  # no broker
    assert command["args"] == {"revision": 1,
                               "values": {"health_interval_s": 30.0, "log_level": "DEBUG"}}

    problem(_put(api, {"health_interval_s": 20}, base_revision=0), 409, "config-changed")
    two = _put(api, {"health_interval_s": 20, "commit_deadline_s": 600},
               base_revision=1).json()
    assert two["revision"] == 2
    assert api.client.get(f"/commands/{one['command_id']}").json()["status"] == "superseded"

    # The terminal answers revision 2: 20 s applied, the deadline refused.
    api.apply(CommandResult(device_id=DEV, id=two["command_id"], status=CommandStatus.OK,
                            output={"config": {"revision": 2,
                                               "values": {"health_interval_s": 20.0}},
                                    "applied": {"health_interval_s": 20.0},
                                    "refused": {"commit_deadline_s": "too long here"}}))
    got = api.client.get(f"/devices/{DEV}/config").json()
    assert got["reported"]["revision"] == 2 and got["reported"]["values"] == {
        "health_interval_s": 20.0}
    assert got["drift"] == ["commit_deadline_s"]
    assert got["refused"] == {"commit_deadline_s": "too long here"}
    assert not got["in_sync"]

    three = _put(api, {"health_interval_s": 20}).json()
    api.apply(CommandResult(device_id=DEV, id=three["command_id"], status=CommandStatus.OK,
                            output={"config": {"revision": 3,
                                               "values": {"health_interval_s": 20.0}},
                                    "applied": {"health_interval_s": 20.0}, "refused": {}}))
    got = api.client.get(f"/devices/{DEV}/config").json()
    assert (got["drift"], got["in_sync"], got["refused"]) == ([], True, {})


def test_a_terminal_that_lost_its_configuration_gets_it_again(api: Api) -> None:
    api.apply(_birth(S1))
    one = _put(api, {"health_interval_s": 30}).json()
    api.apply(CommandResult(device_id=DEV, id=one["command_id"], status=CommandStatus.OK,
                            output={"config": {"revision": 1,
                                               "values": {"health_interval_s": 30.0}}}))
    api.apply(_birth(S2, revision=0))  # a new session, its state directory lost
    api.manager.config.reconcile([DEV])  # what an accepted birth triggers

    def reissued() -> list[Any]:
        commands = api.manager.registry.deliverable_commands([DEV], utc_now())
        return [c for c in commands if c.name == "set-config" and c.id != one["command_id"]]

    [again] = wait_for(reissued, "a new set-config", timeout=10)
    assert again.args == {"revision": 1, "values": {"health_interval_s": 30.0}}


def test_the_device_view_shows_the_new_health_fields(api: Api) -> None:
    api.apply(_birth(S1))
    h = health(S1, 1, device_id=DEV)
    h = Health.model_validate({
        **h.model_dump(), "temperature_c": 61.5, "edge_reachable": False,
        "outbox": {"depth": 4, "oldest_age_s": 90.0},
        "maintenance": {"on": False, "pending": True},
        "peripherals": {"printer": {"state": "degraded", "code": "paper-low", "reason": "low"},
                        "camera": {"state": "ok"}},
    })
    api.apply(h)
    for d in (api.client.get(f"/devices/{DEV}").json(),
              api.client.get("/devices").json()["items"][0]):
        assert d["temperature_c"] == 61.5 and d["edge_reachable"] is False
        assert d["outbox"] == {"depth": 4, "oldest_age_s": 90.0}
        assert d["maintenance"] == {"on": False, "pending": True}
        assert d["printer"] == {"state": "degraded", "code": "paper-low", "reason": "low"}
        assert d["camera"]["state"] == "ok"
        assert d["health"]["temperature_c"] == 61.5


def test_the_cli_merges_into_the_desired_configuration(api: Api) -> None:
    from typer.testing import CliRunner

    from fleet.cli import fleet_app
    from fleet.manager.devices_cli import parse_assignment

    assert parse_assignment("health_interval_s=30") == ("health_interval_s", 30)
    assert parse_assignment("log_level=DEBUG") == ("log_level", "DEBUG")
    api.apply(_birth(S1))
    base = str(api.client.base_url).rstrip("/").removesuffix("/api/v1")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(fleet_app, ["devices", "config", DEV, "--manager", base, *args])

    shown = run("--set", "health_interval_s=30", "--set", "log_level=DEBUG")
    assert shown.exit_code == 0, shown.output
    assert "revision 1" in shown.output and "drift: health_interval_s, log_level" in shown.output
    result = run("--unset", "log_level", "--set", "commit_deadline_s=600", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["desired"] == {"health_interval_s": 30,
                                                    "commit_deadline_s": 600}
    refused = run("--set", "health_interval_s=fast")
    assert refused.exit_code == 1 and "refused" in refused.output
    assert api.client.get(f"/devices/{DEV}/config").json()["revision"] == 2
