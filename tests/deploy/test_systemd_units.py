"""deploy/systemd/*.service: parsed as systemd reads them, every command a real entry point that
accepts its arguments, every KIOSK_/AGENT_/EDGE_ variable a real setting, the restart and stop
policies the exit statuses rely on, and `systemd-analyze verify` where systemd is installed."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from edge_server.settings import EdgeSettings
from fleet.agent.settings import AgentSettings
from kiosk.settings import KioskSettings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
VENV_PYTHON = "/opt/hrss-kiosk/current/venv/bin/python"
OURS = ("hrss-kiosk.service", "hrss-fleet-agent.service", "hrss-edge.service")
Unit = dict[str, dict[str, list[str]]]


def parse(path: Path) -> Unit:
    """Sections of key -> every value in order (systemd allows a key more than once, which
    configparser does not), comments and backslash continuations as systemd treats them."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: {raw}"
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None and "=" in line, f"{path.name}:{number}: {raw}"
        key, value = (part.strip() for part in line.split("=", 1))
        section.setdefault(key, []).append(value)
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def environment(unit: Unit) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in unit["Service"].get("Environment", []):
        for word in shlex.split(value):
            name, _, setting = word.partition("=")
            env[name] = setting
    return env


@pytest.fixture(scope="module")
def units() -> dict[str, Unit]:
    found = {path.name: parse(path) for path in sorted(UNITS.glob("*.service"))}
    assert set(OURS) <= set(found), sorted(found)
    return found


def test_every_unit_has_the_basic_sections(units: dict[str, Unit]) -> None:
    for name, unit in units.items():
        assert one(unit, "Unit", "Description"), name
        assert one(unit, "Service", "Type") == "simple", name
        assert one(unit, "Install", "WantedBy").endswith(".target"), name
        assert one(unit, "Service", "ExecStart").startswith("/"), name  # systemd wants a path


def test_each_command_is_a_real_entry_point_that_takes_its_arguments(
    units: dict[str, Unit],
) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kioskctl"] == "kioskctl.cli:main"
    for name in OURS:
        argv = shlex.split(one(units[name], "Service", "ExecStart"))
        assert argv[:2] == [VENV_PYTHON, "-m"], argv
        module, args = argv[2], argv[3:]
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module
        # --help after the arguments: the command line parses (an unknown subcommand or
        # option fails with status 2) and the command itself is not run.
        result = subprocess.run([sys.executable, "-m", module, *args, "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert "Usage:" in result.stdout


@pytest.mark.parametrize(("name", "prefix", "settings"), [
    ("hrss-kiosk.service", "KIOSK_", KioskSettings),
    ("hrss-fleet-agent.service", "AGENT_", AgentSettings),
    ("hrss-edge.service", "EDGE_", EdgeSettings),
])
def test_every_setting_a_unit_sets_exists(units: dict[str, Unit], name: str, prefix: str,
                                          settings: type) -> None:
    env = environment(units[name])
    named = [key for key in env if key.startswith(("KIOSK_", "AGENT_", "EDGE_"))]
    assert all(key.startswith(prefix) for key in named), named
    for key in named:
        assert key[len(prefix):].lower() in settings.model_fields, key


def test_restart_and_stop_policies(units: dict[str, Unit]) -> None:
    for name in OURS:
        service = units[name]["Service"]
        # The kiosk and the edge stop cleanly on SIGTERM within a bound; after it, SIGKILL.
        assert one(units[name], "Service", "KillSignal") == "SIGTERM", name
        assert float(one(units[name], "Service", "TimeoutStopSec")) > 0, name
        assert float(one(units[name], "Service", "RestartSec")) > 0, name
        assert "StartLimitBurst" in units[name]["Unit"], name  # a crash loop ends
        assert service.get("SendSIGKILL", ["yes"]) == ["yes"], name
    # 0 is a staff exit or a stop (stays stopped); 1, 2 and signals are failures (restarted).
    assert one(units["hrss-kiosk.service"], "Service", "Restart") == "on-failure"
    assert one(units["hrss-edge.service"], "Service", "Restart") == "on-failure"
    # The agent's restart hook may end it with SIGTERM (exit 0) and leave the start of the new
    # release's agent to the service manager (docs/fleet.md, "The agent updates itself").
    assert one(units["hrss-fleet-agent.service"], "Service", "Restart") == "always"


def test_the_kiosk_unit(units: dict[str, Unit]) -> None:
    kiosk = units["hrss-kiosk.service"]
    after = " ".join(kiosk["Unit"]["After"]).split()
    assert {"pcscd.socket", "hrss-fleet-agent.service", "hrss-kiosk-display.service"} <= set(after)
    assert one(kiosk, "Service", "User") not in ("root", "0")
    env = environment(kiosk)
    assert env["SDL_VIDEODRIVER"] == "x11" and env["DISPLAY"] == ":0"
    # A watchdog only if the kiosk pings it: otherwise systemd would kill a healthy kiosk.
    notifies = any(re.search(r"WATCHDOG=1|sd_notify", p.read_text(errors="replace"))
                   for p in (ROOT / "kiosk").rglob("*.py"))
    assert ("WatchdogSec" in kiosk["Service"]) == notifies


def test_the_agents_restart_hook_names_our_units(units: dict[str, Unit]) -> None:
    hook = json.loads(environment(units["hrss-fleet-agent.service"])["AGENT_RESTART_COMMAND"])
    assert hook[:3] == ["systemctl", "restart", "--no-block"]
    assert set(hook[3:]) == {"hrss-kiosk.service", "hrss-fleet-agent.service"}
    assert set(hook[3:]) <= set(units)
    assert AgentSettings(device_id="kiosk-test-01", restart_command=hook).restart_command == hook


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """Where systemd is installed (not in every CI container): the whole files as systemd
    reads them. The release's and Xorg's paths become this machine's, which exist."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # Said, not skipped: the parse checks above ran; only systemd's own reading did not.
        print("systemd-analyze not installed: parse checks only")
        return
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(VENV_PYTHON, sys.executable)
        text = text.replace("/usr/bin/Xorg", shutil.which("Xorg") or "/bin/true")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", *sorted(tmp_path.glob("*"))],
                            capture_output=True, text=True, timeout=60, check=False)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "hrss-" in line]
    # Bad values are warnings ("Failed to parse ..., ignoring"), not a failing status.
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
