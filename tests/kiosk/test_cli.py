"""`kioskctl kiosk`: help text, configuration errors, and no Kivy at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from kioskctl.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_help_names_every_option() -> None:
    result = CliRunner().invoke(app, ["kiosk", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--config", "--automation", "--screenshots"):
        assert option in result.output
    assert "SDL_VIDEODRIVER=offscreen" in result.output


def test_bad_configuration_exits_2_before_any_window(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text('[kiosk]\nidle_warning_s = 5\n')
    result = CliRunner().invoke(app, ["kiosk", "--config", str(config)])
    assert result.exit_code == 2
    assert "idle_warning_s" in result.output
    missing = CliRunner().invoke(app, ["kiosk", "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2


def test_importing_the_command_does_not_load_kivy() -> None:
    code = ("import sys, kiosk.cli, kiosk.flow, kiosk.edge.client, kiosk.status_server;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kivy'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
