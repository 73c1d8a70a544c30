"""README.md's "Installing on a terminal": every option it names exists, with the default it
states, and its device-file example loads (a misspelt option would be silently ignored)."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest

from drivers.docprinter.cups import CupsDocumentPrinter
from drivers.printer.escpos import EscPosPrinter
from drivers.qr.scanners import qr_scanner
from drivers.qr.serial import SerialQrScanner
from kiosk.settings import KioskSettings, PeripheralSettings

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Installing on a terminal\n")
    return text[start:text.index("\n## ", start + 1)]


def _parameters(*functions: object) -> set[str]:
    return {name for f in functions for name in inspect.signature(f).parameters  # type: ignore[arg-type]
            if name not in ("self", "options")}


def test_the_device_file_example_names_real_options(section: str, tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    document = tomllib.loads(block.group(1))
    assert set(document["kiosk"]) <= set(KioskSettings.model_fields)
    assert set(document["peripherals"]) <= set(PeripheralSettings.model_fields)
    drivers = {"qr": _parameters(qr_scanner, SerialQrScanner),
               "printer": _parameters(EscPosPrinter),
               "docprinter": _parameters(CupsDocumentPrinter)}
    for kind, options in document["peripheral_options"].items():
        assert set(options) <= drivers[kind], kind
    # The printer's own check of its connection and paper width (what the kiosk will do).
    EscPosPrinter(**document["peripheral_options"]["printer"])
    config = tmp_path / "device.toml"
    config.write_text(block.group(1))
    settings = KioskSettings.load(config)
    assert settings.peripherals.qr == "real"
    assert settings.peripheral_options["qr"]["baudrate"] == 9600


def test_every_setting_named_exists_with_the_default_stated(section: str) -> None:
    fields = KioskSettings.model_fields
    named = set(re.findall(r"`([a-z][a-z0-9_]+)(?: = [^`]*)?`", section))
    commands = {"pcsc_scan"}
    # Every snake_case name in backticks is a kiosk setting (or a command): none misspelt.
    assert {n for n in named if "_" in n} - commands <= set(fields)
    settings_like = {n for n in named if n in fields}
    assert {"staff_exit_lockout_s", "staff_exit_timeout_s", "staff_exit_pin_hash",
            "window_width", "window_height", "show_cursor"} <= settings_like
    for name, seconds in re.findall(r"`([a-z_]+_s)` \((\d+) s\)", section):
        assert fields[name].default == float(seconds), name
    assert fields["show_cursor"].default is False
    assert (fields["window_width"].default, fields["window_height"].default) == (1080, 1920)
