"""The device credential (edge-api.md, "Device credential")."""

import pytest

from edge_server.auth import InvalidToken, device_token, verify_token
from tests.edge_server.support import HALL_SECRET, contract_token, hall, new_key


@pytest.mark.parametrize("device", ["kiosk-01", "A", "hall_3-terminal_12", "x" * 64])
def test_token_is_exactly_the_contract_formula(device):
    assert device_token(HALL_SECRET, device) == contract_token(device)
    assert verify_token(contract_token(device), HALL_SECRET, set()) == device


@pytest.mark.parametrize("device", ["", "-lead", "has.dot", "x" * 65, "空格"])
def test_device_ids_outside_the_pattern_are_refused(device):
    with pytest.raises(ValueError):
        device_token(HALL_SECRET, device)


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize("token", [
    "",
    "dev1.kiosk-01",
    "dev2." + contract_token("kiosk-01")[5:],
    tampered(contract_token("kiosk-01")),
    contract_token("kiosk-01", hall_secret="another-hall"),
    contract_token("kiosk-01").replace("kiosk-01", "kiosk-02"),
    contract_token("kiosk-01") + ".extra",
    "dev1.kiosk-01." + "A" * 300,
])
def test_forged_or_malformed_tokens_are_invalid(token):
    with pytest.raises(InvalidToken):
        verify_token(token, HALL_SECRET, set())


def test_revoked_device_is_invalid():
    with pytest.raises(InvalidToken):
        verify_token(contract_token("kiosk-07"), HALL_SECRET, {"kiosk-07"})


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer nonsense",
    "Basic " + contract_token("kiosk-01"),
    "Bearer " + tampered(contract_token("kiosk-01")),
    "Bearer " + contract_token("kiosk-01", hall_secret="another-hall"),
    "Bearer " + contract_token("kiosk-revoked"),
])
def test_api_answers_401_problem(tmp_path, authorization):
    with hall(tmp_path, revoked_devices=["kiosk-revoked"]) as h:
        hdrs = {"Idempotency-Key": new_key()}
        if authorization is not None:
            hdrs["Authorization"] = authorization
        for r in (
            h.edge.post("/api/v1/sessions", json={}, headers=hdrs),
            h.edge.get("/api/v1/sessions/ses_x", headers=hdrs),
            h.edge.get("/api/v1/sessions/ses_x/benefits", headers=hdrs),
            h.edge.delete("/api/v1/sessions/ses_x", headers=hdrs),
        ):
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "unauthorized"
        assert h.link.calls == []


def test_a_valid_token_passes_and_revocation_is_per_device(tmp_path):
    with hall(tmp_path, revoked_devices=["kiosk-revoked"]) as h:
        assert h.open(h.citizen(), device="kiosk-01").status_code == 201
        assert h.open(h.citizen(), device="kiosk-revoked").status_code == 401


def test_revoked_devices_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_REVOKED_DEVICES", '["kiosk-09"]')
    with hall(tmp_path) as h:
        assert h.open(h.citizen(), device="kiosk-09").status_code == 401
