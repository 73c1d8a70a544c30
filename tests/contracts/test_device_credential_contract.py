"""Provisioning issues device tokens and the edge verifies and renews them (edge-api.md,
"Device credential" and "Rotation"). One token function (common.device_token), two parts that
must agree on its use: checked through the provisioning CLI and a real edge process."""

from __future__ import annotations

import datetime as dt
import subprocess
import tomllib

import httpx
import pytest

from provisioning.device_credentials import InvalidDeviceId, issue_token, new_hall_secret
from simulators.stack import services
from tests.edge_server.support import hall, new_key
from tests.harness.stack import supervised


def bearer(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}


@pytest.mark.parametrize("device_id", ["T-110105-0001", "a", "Z" * 64, "kiosk_7"])
def test_a_provisioned_token_is_accepted_until_its_expiry(tmp_path, device_id):
    secret = new_hall_secret()
    with hall(tmp_path, hall_secret=secret) as h:
        token = issue_token(secret, device_id, dt.timedelta(days=1), clock=h.clock)
        r = h.edge.get("/api/v1/sessions/ses_x", headers=bearer(token))
        assert (r.status_code, r.json()["code"]) == (404, "session-not-found")
        h.clock.advance(86400)
        r = h.edge.get("/api/v1/sessions/ses_x", headers=bearer(token))
        assert (r.status_code, r.json()["code"]) == (401, "token-expired")


def test_another_halls_token_or_a_revoked_device_is_refused(tmp_path):
    secret = new_hall_secret()
    with hall(tmp_path, hall_secret=secret, revoked_devices=["T-2"]) as h:
        for token in (issue_token(new_hall_secret(), "T-1", clock=h.clock),
                      issue_token(secret, "T-2", clock=h.clock)):
            r = h.edge.get("/api/v1/sessions/ses_x", headers=bearer(token))
            assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("device_id", ["", "-leading", "has space", "x" * 65, "点"])
def test_provisioning_refuses_device_ids_the_edge_would_refuse(device_id):
    with pytest.raises(InvalidDeviceId):
        issue_token("secret", device_id)


def test_cli_provisioned_device_talks_to_a_real_edge_and_renews_its_token(tmp_path):
    secret_file, device_file = tmp_path / "hall.secret", tmp_path / "device.toml"
    subprocess.run(services.kioskctl("provision", "hall-secret", "--out", str(secret_file)),
                   check=True, capture_output=True)
    subprocess.run(services.kioskctl(
        "provision", "device", "--device-id", "T-110105-0001", "--site", "hall",
        "--hall-secret-file", str(secret_file), "--out", str(device_file),
        "--token-ttl-days", "30"), check=True, capture_output=True)
    token = tomllib.loads(device_file.read_text())["kiosk"]["device_token"]
    version, device_id, expires, _mac = token.split(".")
    assert (version, device_id) == ("dev2", "T-110105-0001")
    lifetime = int(expires) - dt.datetime.now(dt.UTC).timestamp()
    assert 29 * 86400 < lifetime <= 30 * 86400

    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=300)
        sup.start(central.spec)
        edge = services.edge(tmp_path / "edge", central_url=central.url,
                             hall_secret=secret_file.read_text().strip())
        sup.start(edge.spec)
        url = f"{edge.url}/api/v1"
        assert httpx.get(f"{url}/sessions/ses_x", headers=bearer(token)).status_code == 404
        key = new_key()
        renewed = httpx.post(f"{url}/device/token", headers=bearer(token, key))
        assert renewed.status_code == 200, renewed.text
        fresh = renewed.json()["token"]
        assert fresh.startswith("dev2.T-110105-0001.") and renewed.json()["device_id"] == device_id
        again = httpx.post(f"{url}/device/token", headers=bearer(token, key))
        assert again.json() == renewed.json()  # idempotent: a lost answer is not a lost token
        assert httpx.get(f"{url}/sessions/ses_x", headers=bearer(fresh)).status_code == 404
        # The legacy dev1 form of the same device is refused by default.
        legacy = f"dev1.{device_id}.{_mac}"
        r = httpx.get(f"{url}/sessions/ses_x", headers=bearer(legacy))
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
