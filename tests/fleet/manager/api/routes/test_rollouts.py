"""Rollout routes as a client sees them: problem+json for every bad request, never a 5xx."""

from __future__ import annotations

import httpx

from tests.fleet.manager.api.conftest import problem

BODY = {"name": "r", "target": "kiosk/k-1.4.0.tar.gz", "version": "1.4.0"}


def test_creating_needs_a_key_a_valid_body_and_some_terminals(api: httpx.Client) -> None:
    problem(api.post("/rollouts", json=BODY), 400, "idempotency-key-required")
    key = {"Idempotency-Key": "r-1"}
    for bad in ({**BODY, "groups": ["rest", "5"]}, {**BODY, "target": "../etc/passwd"},
                {**BODY, "error_threshold_percent": 0}, {**BODY, "surprise": 1},
                {**BODY, "filter": {"tags": ["x" * 65]}}):
        assert api.post("/rollouts", json=bad, headers=key).status_code == 422
    problem(api.post("/rollouts", json=BODY, headers=key), 422, "no-targets")


def test_unknown_rollouts_are_404_and_bad_ids_422(api: httpx.Client) -> None:
    missing = "0" * 32
    problem(api.get(f"/rollouts/{missing}"), 404, "rollout-not-found")
    problem(api.post(f"/rollouts/{missing}/pause"), 404, "rollout-not-found")
    problem(api.get(f"/rollouts/{missing}/events"), 404, "rollout-not-found")
    assert api.get("/rollouts/not-an-id").status_code == 422
    assert api.get("/rollouts").json() == []


def test_labels_are_validated(api: httpx.Client) -> None:
    r = api.put("/devices/T-1/labels", json={"region": "gd-sz", "tags": ["b", "a", "a"]})
    assert r.status_code == 200 and r.json() == {"region": "gd-sz", "tags": ["a", "b"]}
    assert api.put("/devices/T-1/labels", json={"tags": ["has space"]}).status_code == 422
