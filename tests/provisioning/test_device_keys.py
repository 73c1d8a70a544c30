"""The terminal's signing key: `kioskctl provision device` writes it beside the device file
(owner only), keeps it when the device is provisioned again, and registers its public half
with a real central simulator process, whose intake then accepts the terminal's records."""

import datetime as dt
import stat
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from common import signing
from kioskctl.cli import app
from provisioning import device_keys
from simulators.stack import services
from simulators.stack.supervisor import Supervisor


def provision(runner: CliRunner, tmp_path, *extra: str):
    secret = tmp_path / "hall.secret"
    if not secret.exists():
        secret.write_text("hall-secret-0123456789\n")
    return runner.invoke(app, [
        "provision", "device", "--device-id", "T-110105-0001", "--site", "hall",
        "--hall-secret-file", str(secret), "--out", str(tmp_path / "device.toml"), *extra])


def test_the_key_is_beside_the_device_file_owner_only_and_kept(tmp_path):
    runner = CliRunner()
    r = provision(runner, tmp_path)
    assert r.exit_code == 0, r.output
    path = device_keys.key_path(tmp_path / "device.toml")
    assert path == tmp_path / "device.signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = signing.public_key_b64(signing.load_device_key(path))
    assert public in r.output
    assert provision(runner, tmp_path).exit_code == 0  # provisioned again: the same key
    assert signing.public_key_b64(signing.load_device_key(path)) == public


def test_an_unreachable_central_fails_the_registration_loudly(tmp_path):
    r = provision(CliRunner(), tmp_path, "--register-key-with", "http://127.0.0.1:9")
    assert r.exit_code == 3 and "could not register" in r.output
    assert device_keys.key_path(tmp_path / "device.toml").exists()  # kept for the next try


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> str:
    workdir = tmp_path_factory.mktemp("central")
    with Supervisor(workdir / "logs") as sup:
        service = services.central_sim(population=2000, today="2026-11-22")
        sup.start(service.spec)
        yield service.url


def test_the_registered_key_is_what_central_verifies_records_with(tmp_path, central):
    r = provision(CliRunner(), tmp_path, "--register-key-with", central)
    assert r.exit_code == 0, r.output
    assert "registered" in r.output
    key = signing.load_device_key(device_keys.key_path(tmp_path / "device.toml"))
    auth = {"Authorization": f"Bearer {services.CENTRAL_API_KEY}"}
    with httpx.Client(base_url=central, timeout=30) as http:
        citizen = http.get("/sim/v1/citizens", params={"receiving_pension": "true",
                                                        "deceased": "false"}).json()["items"][0]
        http.post("/sim/v1/faces", json={"identity": "a", "citizen_ids": [citizen["citizen_id"]],
                                          "make_due": True})
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        record = {"citizen_id": citizen["citizen_id"],
                  "certified_at": now.isoformat().replace("+00:00", "Z"), "method": "hall",
                  "device_id": "T-110105-0001", "location": "hall", "staff_id": None,
                  "evidence_sha256": "1" * 64, "result": "passed", "liveness_version": "1"}
        record["signature"] = signing.sign(key, record)
        item = {"submission_key": f"sub_{uuid.uuid4().hex}", "kind": "pension-certification",
                "device_id": "T-110105-0001", "submitted_at": record["certified_at"],
                "payload": record}
        result = http.post("/central/v1/submissions", json={"items": [item]},
                           headers=auth).json()["results"][0]
    assert result["outcome"] == "recorded", result
