import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_server.settings import EdgeSettings

REQUIRED = {"central_api_key": "k", "hall_secret": "s"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("EDGE_") or name == "HRSS_CONFIG":
            monkeypatch.delenv(name)


def test_defaults():
    s = EdgeSettings(**REQUIRED)
    assert (s.host, s.port) == ("127.0.0.1", 8200)
    assert s.central_url == "http://127.0.0.1:8100"
    assert s.central_timeout_s == 3
    assert (s.cache_ttl_s, s.cache_max_stale_s) == (300, 7 * 24 * 3600)
    assert (s.session_ttl_s, s.idempotency_ttl_s) == (900, 86400)
    assert s.revoked_devices == []
    assert s.previous_hall_secrets == [] and s.accept_dev1_tokens is False
    assert s.device_token_ttl_s == 90 * 86400
    assert (s.identify_device_burst, s.identify_device_per_s) == (20, 0.2)
    assert (s.identify_hall_burst, s.identify_hall_per_s, s.identify_failure_cost) == (300, 5, 5)
    assert s.database_url == f"sqlite:///{Path('var/edge') / 'edge.db'}"
    assert s.key_file == Path("var/edge/data.key")


def test_secrets_are_required_and_hidden():
    with pytest.raises(ValidationError):
        EdgeSettings(central_api_key="k")
    with pytest.raises(ValidationError):
        EdgeSettings(central_api_key="k", hall_secret="")
    with pytest.raises(ValidationError):
        EdgeSettings(central_api_key="", hall_secret="s")
    assert "s3cr3t" not in repr(EdgeSettings(central_api_key="k", hall_secret="s3cr3t"))
    old = EdgeSettings(central_api_key="k", hall_secret="s", previous_hall_secrets=["0ld-s3cr3t"])
    assert "0ld-s3cr3t" not in repr(old)


def test_file_tables_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "device.toml"
    config.write_text(
        '[device]\ndevice_id = "hall-1"\nport = 1111\n\n'
        '[edge]\nport = 8300\nhall_secret = "from-file"\ncentral_api_key = "file-key"\n'
        'revoked_devices = ["k1"]\ncache_ttl_s = 60\n\n'
        '[kiosk]\nport = 9999\n')
    s = EdgeSettings.load(config)
    assert s.port == 8300, "[edge] overrides [device]; [kiosk] is not read"
    assert s.hall_secret.get_secret_value() == "from-file"
    assert s.revoked_devices == ["k1"] and s.cache_ttl_s == 60

    monkeypatch.setenv("EDGE_PORT", "8400")
    monkeypatch.setenv("EDGE_DATABASE_URL", "postgresql://edge@db/edge")
    monkeypatch.setenv("EDGE_DATA_KEY_FILE", str(tmp_path / "k"))
    s = EdgeSettings.load(config)
    assert s.port == 8400 and s.database_url == "postgresql://edge@db/edge"
    assert s.key_file == tmp_path / "k"
    assert EdgeSettings.load(config, port=8500).port == 8500


def test_edge_command_refuses_bad_settings_without_echoing_them(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kioskctl.cli import app

    monkeypatch.setenv("EDGE_HALL_SECRET", "very-secret-value")
    monkeypatch.setenv("EDGE_PORT", "not-a-port")
    result = CliRunner().invoke(app, ["edge"])
    assert result.exit_code == 2
    assert "central_api_key" in result.output and "port" in result.output
    assert "very-secret-value" not in result.output


def test_data_key_file_is_created_0600_on_first_start(tmp_path):
    from edge_server.main import build_context

    s = EdgeSettings(data_dir=tmp_path / "d", **REQUIRED)
    ctx = build_context(s)
    try:
        assert stat.S_IMODE(s.key_file.stat().st_mode) == 0o600
        assert (tmp_path / "d" / "edge.db").exists()
    finally:
        ctx.engine.dispose()
