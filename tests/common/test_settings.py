from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from common.settings import CONFIG_ENV, DeviceSettings


class _Settings(DeviceSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("device", "kiosk")
    model_config = SettingsConfigDict(env_prefix="TESTPROC_", extra="ignore")
    device_id: str = "unset"
    port: int = 1
    language: str = "zh_CN"


@pytest.fixture
def device_file(tmp_path):
    path = tmp_path / "device.toml"
    path.write_text('[device]\ndevice_id = "T-1"\n[kiosk]\nport = 5\n[edge]\nport = 9\n')
    return path


def test_tables_merge_in_order_and_other_tables_are_ignored(device_file):
    s = _Settings.load(device_file)
    assert (s.device_id, s.port, s.language) == ("T-1", 5, "zh_CN")


def test_environment_overrides_file_and_arguments_override_both(device_file, monkeypatch):
    monkeypatch.setenv("TESTPROC_PORT", "7")
    assert _Settings.load(device_file).port == 7
    assert _Settings.load(device_file, port=8).port == 8


def test_config_found_through_environment(device_file, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(device_file))
    assert _Settings.load().device_id == "T-1"


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="configuration file not found"):
        _Settings.load(tmp_path / "nope.toml")
