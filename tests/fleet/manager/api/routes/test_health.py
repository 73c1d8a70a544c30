from __future__ import annotations

import httpx

from tests.fleet.manager.api.conftest import problem


def test_health_says_not_ready_without_a_broker(api: httpx.Client) -> None:
    r = api.get("/health")
    body = problem(r, 503, "not-ready")
    assert r.headers["Retry-After"] == "5"
    assert body["broker"]["connected"] is False
    assert body["database"] == {"ok": True}
    assert body["state"] == "degraded"
    assert body["ingest"]["rejected"] == {"topic": 0, "decode": 0, "device-mismatch": 0,
                                          "session-ahead": 0, "store-failed": 0, "too-large": 0}
    assert body["client_id"].startswith("fleet-manager-")


def test_openapi_has_stable_operation_ids(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["info"]["title"] == "HRSS fleet manager"
    ids = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {"service-health", "devices-get_device", "commands-issue_command"} <= ids
