"""Device authentication through the app (edge-api.md, "Device credential" and "Rotation").
The token formula itself: tests/common/test_device_token.py."""

import datetime as dt

import pytest

from tests.edge_server.support import (
    HALL_SECRET,
    contract_dev1_token,
    contract_token,
    hall,
    new_key,
)


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def bearer(token: str, key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {token}"}
    if key:
        out["Idempotency-Key"] = key
    return out


def calls(h, hdrs):
    return (
        h.edge.post("/api/v1/sessions", json={}, headers=hdrs),
        h.edge.get("/api/v1/sessions/ses_x", headers=hdrs),
        h.edge.get("/api/v1/sessions/ses_x/benefits", headers=hdrs),
        h.edge.delete("/api/v1/sessions/ses_x", headers=hdrs),
        h.edge.post("/api/v1/device/token", headers=hdrs),
    )


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer nonsense",
    "Bearer " + "A" * 5000,
    "Basic " + contract_token("kiosk-01"),
    "Bearer " + tampered(contract_token("kiosk-01")),
    "Bearer " + contract_token("kiosk-01", hall_secret="another-hall"),
    "Bearer " + contract_token("kiosk-revoked"),
    "Bearer " + contract_dev1_token("kiosk-01"),  # legacy tokens are off by default
    "Bearer " + contract_token("kiosk-01").replace("kiosk-01", "kiosk-02"),
])
def test_api_answers_401_problem(tmp_path, authorization):
    with hall(tmp_path, revoked_devices=["kiosk-revoked"]) as h:
        hdrs = {"Idempotency-Key": new_key()}
        if authorization is not None:
            hdrs["Authorization"] = authorization
        for r in calls(h, hdrs):
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "unauthorized"
        assert h.link.calls == []


def test_an_expired_token_answers_401_token_expired(tmp_path):
    with hall(tmp_path) as h:
        expires = h.clock.now + dt.timedelta(hours=1)
        token = contract_token("kiosk-01", expires_at=expires)
        assert h.edge.get("/api/v1/sessions/ses_x", headers=bearer(token)).status_code == 404
        h.clock.advance(3600)
        for r in calls(h, bearer(token, new_key())):
            assert (r.status_code, r.json()["code"]) == (401, "token-expired")
        # A forged token past the same expiry says nothing about expiry.
        r = h.edge.get("/api/v1/sessions/ses_x", headers=bearer(tampered(token)))
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


def test_dev1_tokens_only_when_the_setting_allows_them(tmp_path):
    with hall(tmp_path, accept_dev1_tokens=True) as h:
        r = h.edge.post("/api/v1/sessions", json={"method": "card", "card": {}},
                        headers=bearer(contract_dev1_token("kiosk-01"), new_key()))
        assert r.status_code == 422  # past authentication
        # ... and such a device moves to dev2 through the refresh endpoint.
        r = h.edge.post("/api/v1/device/token",
                        headers=bearer(contract_dev1_token("kiosk-01"), new_key()))
        assert r.status_code == 200 and r.json()["token"].startswith("dev2.kiosk-01.")


def test_a_device_refreshes_its_token_idempotently(tmp_path):
    with hall(tmp_path, device_token_ttl_s=30 * 86400) as h:
        old = contract_token("kiosk-01", expires_at=h.clock.now + dt.timedelta(days=2))
        key = new_key()
        first = h.edge.post("/api/v1/device/token", headers=bearer(old, key))
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["device_id"] == "kiosk-01"
        expected_expiry = h.clock.now + dt.timedelta(days=30)
        assert body["expires_at"] == expected_expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["token"] == contract_token("kiosk-01", expires_at=expected_expiry)

        h.clock.advance(60)
        again = h.edge.post("/api/v1/device/token", headers=bearer(old, key))
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"

        # The new token works after the old one has expired.
        h.clock.advance(3 * 86400)
        assert h.edge.get("/api/v1/sessions/ses_x", headers=bearer(old)).json()["code"] == (
            "token-expired")
        new = bearer(body["token"])
        assert h.edge.get("/api/v1/sessions/ses_x", headers=new).status_code == 404


def test_a_refresh_needs_an_idempotency_key(tmp_path):
    with hall(tmp_path) as h:
        r = h.edge.post("/api/v1/device/token", headers=bearer(contract_token("kiosk-01")))
        assert (r.status_code, r.json()["code"]) == (400, "idempotency-key-required")


def test_hall_secret_rotation_with_an_overlap(tmp_path):
    old_token = contract_token("kiosk-01", hall_secret=HALL_SECRET)
    with hall(tmp_path, hall_secret="the-new-hall-secret",
              previous_hall_secrets=[HALL_SECRET]) as h:
        assert h.edge.get("/api/v1/sessions/ses_x", headers=bearer(old_token)).status_code == 404
        r = h.edge.post("/api/v1/device/token", headers=bearer(old_token, new_key()))
        fresh = r.json()["token"]
        expires = dt.datetime.strptime(r.json()["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC)
        assert fresh == contract_token("kiosk-01", hall_secret="the-new-hall-secret",
                                       expires_at=expires)
    # The overlap over: only tokens of the new secret pass.
    with hall(tmp_path / "after", hall_secret="the-new-hall-secret") as h:
        r = h.edge.get("/api/v1/sessions/ses_x", headers=bearer(old_token))
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        assert h.edge.get("/api/v1/sessions/ses_x", headers=bearer(fresh)).status_code == 404


def test_a_valid_token_passes_and_revocation_is_per_device(tmp_path):
    with hall(tmp_path, revoked_devices=["kiosk-revoked"]) as h:
        assert h.open(h.citizen(), device="kiosk-01").status_code == 201
        assert h.open(h.citizen(), device="kiosk-revoked").status_code == 401
        r = h.edge.post("/api/v1/device/token",
                        headers=bearer(contract_token("kiosk-revoked"), new_key()))
        assert r.status_code == 401


def test_revoked_devices_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_REVOKED_DEVICES", '["kiosk-09"]')
    with hall(tmp_path) as h:
        assert h.open(h.citizen(), device="kiosk-09").status_code == 401


def test_a_remembered_token_is_still_refused_at_once_when_its_device_is_revoked(tmp_path):
    """Verified tokens are remembered (no MAC per request): revocation still acts at once."""
    with hall(tmp_path) as h:
        sid = h.open(h.citizen()).json()["session_id"]
        assert h.get(sid).status_code == 200
        assert h.get(sid).status_code == 200  # the remembered token
        h.edge.app.state.edge.settings.revoked_devices.append("kiosk-01")
        r = h.get(sid)
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        # and a tampered variant of a remembered token is not taken for it
        h.edge.app.state.edge.settings.revoked_devices.clear()
        r = h.edge.get(f"/api/v1/sessions/{sid}", headers=bearer(tampered(contract_token(
            "kiosk-01"))))
        assert r.status_code == 401
