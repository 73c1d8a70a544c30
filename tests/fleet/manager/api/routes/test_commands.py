from __future__ import annotations

import httpx

from tests.fleet.manager.api.conftest import problem


def test_command_errors(api: httpx.Client) -> None:
    problem(api.get("/commands/nope"), 404, "command-not-found")
    key = {"Idempotency-Key": "k1"}
    problem(api.post("/devices/T-1/commands", json={"name": "ping"}, headers=key),
            404, "device-not-found")
    problem(api.post("/devices/T-1/commands", json={"name": "ping", "x": 1}, headers=key),
            422, "validation-error")
    problem(api.post("/devices/T-1/commands", json={"name": "ping"},
                     headers={"Idempotency-Key": "bad key!"}),
            400, "idempotency-key-required")
