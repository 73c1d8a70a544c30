"""KioskSettings: defaults, the device TOML, KIOSK_* overrides, and the humane-timing rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from drivers.registry import Impl, PeripheralKind
from kiosk.settings import KioskSettings, PeripheralSettings

ENV = ("KIOSK_DEVICE_ID", "KIOSK_DEVICE_TOKEN", "KIOSK_EDGE_URL", "KIOSK_STATUS_PORT",
       "KIOSK_THEME", "KIOSK_CARD_DRIVER", "KIOSK_AUTOMATION", "HRSS_CONFIG",
       *(f"KIOSK_PERIPHERALS__{kind.upper()}" for kind in PeripheralKind),
       *(f"KIOSK_PERIPHERAL_OPTIONS__QR__{o}" for o in ("PORT", "BAUD_RATE", "TERMINATOR")))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_fit_a_hall_terminal() -> None:
    s = KioskSettings()
    assert (s.edge_url, s.status_host, s.status_port) == ("http://127.0.0.1:8200", "127.0.0.1",
                                                          8600)
    assert s.language == "zh_CN" and s.theme == "elder"
    assert s.peripherals.card is Impl.REAL and s.card_driver is None
    assert {s.peripherals.impl(k) for k in PeripheralKind if k != "card"} == {Impl.ABSENT}
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
    {"peripherals": {"card": "fake"}},
    {"peripheral_stop_timeout_s": 0},
    {"animations": "sometimes"},
])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KioskSettings(**bad)


def test_loopback_names_allow_automation() -> None:
    assert KioskSettings(automation=True, status_host="::1").automation
    assert KioskSettings(automation=True, status_host="localhost").automation


def test_a_setting_for_every_kind_of_the_registry() -> None:
    assert set(PeripheralSettings.model_fields) == set(PeripheralKind)


def test_peripherals_table_then_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "device.toml"
    config.write_text('[kiosk]\ntheme = "normal"\n'
                      '[peripherals]\ncard = "simulated"\nqr = "real"\nprinter = "real"\n')
    s = KioskSettings.load(config)
    assert (s.peripherals.card, s.peripherals.qr, s.peripherals.printer) == (
        Impl.SIMULATED, Impl.REAL, Impl.REAL)
    assert s.theme == "normal" and s.peripherals.camera is Impl.ABSENT

    monkeypatch.setenv("KIOSK_PERIPHERALS__QR", "absent")  # one kind, the others from the file
    s = KioskSettings.load(config)
    assert (s.peripherals.card, s.peripherals.qr, s.peripherals.printer) == (
        Impl.SIMULATED, Impl.ABSENT, Impl.REAL)


def test_peripheral_options_table_then_environment(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "device.toml"
    config.write_text('[peripheral_options.qr]\nport = "/dev/ttyACM0"\nbaud_rate = 9600\n'
                      'terminator = "CR"\n')
    assert KioskSettings.load(config).peripheral_options == {
        "qr": {"port": "/dev/ttyACM0", "baud_rate": 9600, "terminator": "CR"}}
    monkeypatch.setenv("KIOSK_PERIPHERAL_OPTIONS__QR__PORT", "/dev/ttyUSB1")
    monkeypatch.setenv("KIOSK_PERIPHERAL_OPTIONS__QR__BAUD_RATE", "115200")
    monkeypatch.setenv("KIOSK_PERIPHERAL_OPTIONS__QR__TERMINATOR", "0.5")
    qr = KioskSettings.load(config).peripheral_options["qr"]
    # Text from the environment, numbers where it spells one, as the TOML file would give.
    assert qr == {"port": "/dev/ttyUSB1", "baud_rate": 115200, "terminator": 0.5}


def test_the_deprecated_card_driver_still_chooses_the_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert KioskSettings(card_driver="none").peripherals.card is Impl.ABSENT
    assert KioskSettings(card_driver="pcsc").peripherals.card is Impl.REAL
    monkeypatch.setenv("KIOSK_CARD_DRIVER", "none")  # as older scripts set it
    assert KioskSettings().peripherals.card is Impl.ABSENT
    # An explicit peripherals.card wins over the alias, wherever each comes from.
    config = tmp_path / "device.toml"
    config.write_text('[peripherals]\ncard = "simulated"\n')
    assert KioskSettings.load(config).peripherals.card is Impl.SIMULATED


def test_an_unknown_kind_is_ignored_loudly(caplog: pytest.LogCaptureFixture) -> None:
    # A device file from a newer release must not stop the kiosk after a rollback.
    s = KioskSettings(peripherals={"fingerprint": "real", "qr": "simulated"})
    assert s.peripherals.qr is Impl.SIMULATED
    assert "no such kind, ignored: fingerprint" in caplog.text


def test_the_state_dir_is_set_else_the_device_files_folder_else_none(tmp_path: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.delenv("KIOSK_STATE_DIR", raising=False)
    device_file = tmp_path / "etc" / "device.toml"
    device_file.parent.mkdir()
    device_file.write_text('[device]\ndevice_id = "kiosk-001"\n')
    assert KioskSettings.load(device_file).resolved_state_dir() == device_file.parent
    assert KioskSettings().resolved_state_dir() is None  # no device file: kept in memory only
    assert KioskSettings(state_dir=tmp_path / "var").resolved_state_dir() == tmp_path / "var"
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path / "env"))
    assert KioskSettings.load(device_file).resolved_state_dir() == tmp_path / "env"
