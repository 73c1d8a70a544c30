import datetime as dt
import stat
import tomllib

import pytest
from typer.testing import CliRunner

from common.clock import utc_now
from common.device_token import verify_token
from fleet.agent.settings import AgentSettings
from kiosk.settings import KioskSettings
from kioskctl.cli import app
from provisioning.device_file import DeviceProfile, write

PROFILE = DeviceProfile(
    device_id="T-110105-0001", site='朝阳区"社保"大厅', edge_url="http://10.0.0.2:8200",
    broker_url="mqtts://fleet.example:8883",
)


def test_the_file_is_owner_only_and_every_process_reads_its_part(tmp_path, monkeypatch):
    for var in ("KIOSK_DEVICE_ID", "KIOSK_DEVICE_TOKEN", "KIOSK_EDGE_URL", "AGENT_DEVICE_ID",
                "AGENT_BROKER_URL", "AGENT_SITE"):
        monkeypatch.delenv(var, raising=False)
    path = write(tmp_path / "etc" / "device.toml", PROFILE, "hall-secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["device"]["site"] == PROFILE.site  # quoting survives

    kiosk = KioskSettings.load(path)
    assert (kiosk.device_id, kiosk.edge_url) == (PROFILE.device_id, PROFILE.edge_url)
    credential = verify_token(kiosk.device_token.get_secret_value(), ["hall-secret"],
                              now=utc_now())
    assert credential.device_id == PROFILE.device_id and credential.version == "dev2"
    agent = AgentSettings.load(path)
    assert (agent.device_id, agent.site, agent.broker_url) == (
        PROFILE.device_id, PROFILE.site, PROFILE.broker_url)


def token_in(path) -> str:
    return tomllib.loads(path.read_text())["kiosk"]["device_token"]


def test_rewriting_replaces_the_file_whole(tmp_path):
    path = tmp_path / "device.toml"
    write(path, PROFILE, "old-secret")
    write(path, PROFILE, "new-secret")
    assert verify_token(token_in(path), ["new-secret"], now=utc_now()).device_id == (
        PROFILE.device_id)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_the_token_expires_after_the_chosen_lifetime(tmp_path):
    path = write(tmp_path / "device.toml", PROFILE, "s", token_ttl=dt.timedelta(days=7))
    credential = verify_token(token_in(path), ["s"], now=utc_now())
    assert credential.expires_at is not None
    left = credential.expires_at - utc_now()
    assert dt.timedelta(days=6, hours=23) < left <= dt.timedelta(days=7)
    with pytest.raises(ValueError):
        write(tmp_path / "bad.toml", PROFILE, "s", token_ttl=dt.timedelta(0))


def test_cli_writes_a_hall_secret_once_and_a_device_file(tmp_path):
    runner = CliRunner()
    secret = tmp_path / "hall.secret"
    assert runner.invoke(app, ["provision", "hall-secret", "--out", str(secret)]).exit_code == 0
    first = secret.read_text()
    again = runner.invoke(app, ["provision", "hall-secret", "--out", str(secret)])
    assert again.exit_code == 1 and secret.read_text() == first  # never replaced in use

    out = tmp_path / "device.toml"
    result = runner.invoke(app, [
        "provision", "device", "--device-id", "T-9", "--site", "hall",
        "--hall-secret-file", str(secret), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert verify_token(token_in(out), [first.strip()], now=utc_now()).device_id == "T-9"


@pytest.mark.parametrize("device_id", ["has space", "-x", ""])
def test_cli_refuses_a_bad_device_id_and_writes_nothing(tmp_path, device_id):
    secret = tmp_path / "hall.secret"
    secret.write_text("s\n")
    out = tmp_path / "device.toml"
    result = CliRunner().invoke(app, [
        "provision", "device", "--device-id", device_id, "--site", "hall",
        "--hall-secret-file", str(secret), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()
