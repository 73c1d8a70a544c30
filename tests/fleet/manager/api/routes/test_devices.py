from __future__ import annotations

import httpx

from tests.fleet.manager.api.conftest import problem


def test_empty_registry_and_errors(api: httpx.Client) -> None:
    assert api.get("/devices").json() == {"items": [], "next_after": None}
    problem(api.get("/devices/T-1"), 404, "device-not-found")
    problem(api.get("/devices/-bad"), 422, "validation-error")
    problem(api.get("/devices/T-1/presence-events"), 404, "device-not-found")
