"""KioskSettings: defaults, the device TOML, KIOSK_* overrides, and the humane-timing rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kiosk.settings import KioskSettings

ENV = ("KIOSK_DEVICE_ID", "KIOSK_DEVICE_TOKEN", "KIOSK_EDGE_URL", "KIOSK_STATUS_PORT",
       "KIOSK_THEME", "KIOSK_CARD_DRIVER", "KIOSK_AUTOMATION", "HRSS_CONFIG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_fit_a_hall_terminal() -> None:
    s = KioskSettings()
    assert (s.edge_url, s.status_host, s.status_port) == ("http://127.0.0.1:8200", "127.0.0.1",
                                                          8600)
    assert s.language == "zh_CN" and s.theme == "elder" and s.card_driver == "pcsc"
    assert s.idle_timeout_s == 90 and s.idle_warning_s >= 20
    assert (s.window_width, s.window_height) == (1080, 1920)
    assert not s.automation and s.screenshots_dir is None


def test_device_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "device.toml"
    config.write_text(
        '[device]\ndevice_id = "hall-3-kiosk-07"\nsite = "ignored by the kiosk"\n'
        '[kiosk]\nedge_url = "http://10.0.0.5:8200/"\ntheme = "normal"\nstatus_port = 8601\n'
        '[edge]\nhall_secret = "not ours"\n'
    )
    s = KioskSettings.load(config)
    assert s.device_id == "hall-3-kiosk-07" and s.edge_url == "http://10.0.0.5:8200"
    assert s.theme == "normal" and s.status_port == 8601

    monkeypatch.setenv("KIOSK_STATUS_PORT", "9999")
    monkeypatch.setenv("KIOSK_DEVICE_TOKEN", "dev1.x.y")
    s = KioskSettings.load(config, automation=True)
    assert s.status_port == 9999 and s.automation
    assert s.device_token.get_secret_value() == "dev1.x.y"
    assert "dev1.x.y" not in repr(s)  # the credential never shows in logs


@pytest.mark.parametrize("bad", [
    {"idle_warning_s": 10},  # WCAG: at least 20 s to react
    {"idle_timeout_s": 25, "idle_warning_s": 30},
    {"device_id": "bad id!"},
    {"edge_url": "ftp://edge"},
    {"automation": True, "status_host": "0.0.0.0"},  # automation never off the machine
    {"theme": "dark"},
    {"card_driver": "fake"},
    {"animations": "sometimes"},
])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KioskSettings(**bad)


def test_loopback_names_allow_automation() -> None:
    assert KioskSettings(automation=True, status_host="::1").automation
    assert KioskSettings(automation=True, status_host="localhost").automation
