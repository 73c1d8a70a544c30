"""Remote commands through real processes: REST → manager → Mosquitto → agent → a stub
kiosk (status and control API), a hook script, log files → result → registry.

(The agent's side of an expired command is also in test_stack_commands.py; here: one that
expired while the terminal was away is never run when it comes back.)
"""

from __future__ import annotations

import base64
import io
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from common.clock import utc_now
from fleet.protocol.limits import MAX_PAYLOAD_BYTES
from tests.fleet.agent.control_stub import TOKEN, StubKiosk, png_bytes, write_token
from tests.fleet.support import FleetStack, wait_for

CITIZEN_ID = "110105199003070018"


@pytest.fixture
def kiosk() -> Iterator[StubKiosk]:
    stub = StubKiosk()
    yield stub
    stub.close()


class Terminal:
    """One agent process with a reboot hook that records, log files and the control token."""

    def __init__(self, stack: FleetStack, kiosk: StubKiosk, device_id: str) -> None:
        self.stack = stack
        self.device_id = device_id
        self.dir = stack.workdir / f"terminal-{device_id}"
        self.dir.mkdir(parents=True)
        self.reboots = self.dir / "reboots"
        hook = self.dir / "reboot.py"
        hook.write_text(f"open({str(self.reboots)!r}, 'a').write('reboot\\n')\n")
        self.kiosk_log = self.dir / "kiosk.log"
        self.kiosk_log.write_text("")
        self.env = {
            "AGENT_REBOOT_COMMAND": json.dumps([sys.executable, str(hook)]),
            "AGENT_KIOSK_CONTROL_TOKEN_FILE": str(write_token(self.dir)),
            "AGENT_KIOSK_LOG_FILE": str(self.kiosk_log),
        }
        self.kiosk = kiosk

    def start(self) -> Any:
        proc = self.stack.start_agent(self.device_id, self.kiosk.url, health_interval_s=60,
                                      **self.env)
        self.stack.wait_device(self.device_id, lambda d: d["online"], "online")
        return proc

    def reboot_count(self) -> int:
        return len(self.reboots.read_text().splitlines()) if self.reboots.exists() else 0

    def send(self, name: str, args: dict[str, Any] | None = None, ttl_s: int = 60) -> str:
        r = self.stack.post_command(self.device_id, {"name": name, "args": args or {},
                                                     "ttl_s": ttl_s}, str(uuid.uuid4()))
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def result(self, command_id: str) -> dict[str, Any]:
        return wait_for(lambda: (c := self.stack.command(command_id))["answered_at"] and c,
                        f"an answer to {command_id}", diagnostics=self.stack.logs)

    def run(self, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.result(self.send(name, args))


def test_reboot_is_refused_during_a_session_and_runs_after_it(
    stack: FleetStack, kiosk: StubKiosk
) -> None:
    terminal = Terminal(stack, kiosk, "T-0301")
    terminal.start()
    kiosk.session(True)
    refused = terminal.run("reboot")
    assert (refused["status"], refused["output"]) == ("error", {"error": "session-active"})
    forced = terminal.run("reboot", {"force": True})
    assert forced["output"] == {"error": "session-active"}
    assert terminal.reboot_count() == 0

    kiosk.session(False)
    done = terminal.run("reboot")
    assert (done["status"], done["output"]) == ("ok", {"exit_status": 0})
    assert terminal.reboot_count() == 1


def test_logs_are_masked_and_bounded(stack: FleetStack, kiosk: StubKiosk) -> None:
    terminal = Terminal(stack, kiosk, "T-0302")
    with terminal.kiosk_log.open("w", encoding="utf-8") as f:
        for i in range(20_000):  # far more than one answer holds
            f.write(f"{i:05d} card read for 王小明 id {CITIZEN_ID} " + "x" * 200 + "\n")
    terminal.start()
    result = terminal.run("logs", {"source": "kiosk", "lines": 500})
    assert result["status"] == "ok", result
    lines = result["output"]["lines"]
    assert result["output"]["truncated"] is True  # 500 such lines are over 48 KiB
    assert 100 < len(lines) < 500
    assert lines[-1].startswith("19999 card read for 王** id 110105********0018")
    text = json.dumps(result["output"], ensure_ascii=False)
    assert CITIZEN_ID not in text and "王小明" not in text
    assert len(json.dumps(lines, ensure_ascii=False).encode()) <= 48 * 1024

    unset = terminal.run("logs", {"source": "agent", "lines": 10})
    assert unset["output"] == {"error": "not-configured", "source": "agent"}
    refused = terminal.run("logs", {"source": "kiosk", "lines": 10, "path": "/etc/shadow"})
    assert refused["status"] == "rejected"


def test_maintenance_and_screenshot_reach_the_kiosk(stack: FleetStack, kiosk: StubKiosk) -> None:
    terminal = Terminal(stack, kiosk, "T-0303")
    terminal.start()
    on = terminal.run("maintenance", {"on": True, "reason": "printer service"})
    assert (on["status"], on["output"]) == ("ok", {"on": True, "pending": False})
    [seen] = kiosk.control_requests("/control/maintenance")
    assert (seen.authorization, seen.body) == (f"Bearer {TOKEN}",
                                               {"on": True, "reason": "printer service"})

    kiosk.screenshot = (200, png_bytes(960, 600, noisy=True), "image/png")
    shot = terminal.run("screenshot")
    assert shot["status"] == "ok", shot
    png = base64.b64decode(shot["output"]["png_b64"])
    assert len(shot["output"]["png_b64"]) <= 48 * 1024 < MAX_PAYLOAD_BYTES
    assert Image.open(io.BytesIO(png)).size == (shot["output"]["width"],
                                               shot["output"]["height"])

    kiosk.refuse_screenshot(409, "session-active")
    private = terminal.run("screenshot")
    assert private["status"] == "error" and private["output"]["error"] == "session-active"
    assert "png_b64" not in private["output"]


def test_a_reboot_that_expired_while_away_never_runs(
    stack: FleetStack, kiosk: StubKiosk
) -> None:
    terminal = Terminal(stack, kiosk, "T-0304")
    agent = terminal.start()
    assert agent.stop() == 0
    stack.sup.processes.remove(agent)
    stack.wait_device(terminal.device_id, lambda d: not d["online"], "offline")

    late = terminal.send("reboot", ttl_s=1)
    expires = datetime.fromisoformat(stack.command(late)["expires_at"])
    wait_for(lambda: utc_now() > expires + timedelta(seconds=0.5), "the reboot's expiry")

    terminal.start()
    # A command sent after the return is answered: anything the agent would have run of the
    # old one has run by then (one worker, in order).
    assert terminal.run("ping")["output"] == {"pong": True}
    assert terminal.reboot_count() == 0
    old = stack.command(late)
    # Never answered (not sent again past its TTL), or answered `expired`: never run.
    assert old["answered_at"] is None or old["status"] == "expired", old


def test_restart_app_answers_the_commands_exit_status(
    stack: FleetStack, kiosk: StubKiosk, tmp_path: Path
) -> None:
    terminal = Terminal(stack, kiosk, "T-0305")
    marker = tmp_path / "restarted"
    hook = tmp_path / "restart.py"
    hook.write_text(f"open({str(marker)!r}, 'a').write('x')\nraise SystemExit(4)\n")
    terminal.env["AGENT_RESTART_COMMAND"] = json.dumps([sys.executable, str(hook)])
    terminal.start()
    result = terminal.run("restart-app")
    assert (result["status"], result["output"]) == ("error",
                                                    {"error": "exited with 4", "exit_status": 4})
    assert marker.read_text() == "x"


def test_kioskctl_fleet_remote_prints_results_and_writes_the_png(
    stack: FleetStack, kiosk: StubKiosk, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from fleet.cli import fleet_app

    terminal = Terminal(stack, kiosk, "T-0306")
    terminal.kiosk_log.write_text(f"booted\nreader saw {CITIZEN_ID}\n")
    terminal.start()
    runner = CliRunner()

    def kioskctl(*args: str) -> Any:
        return runner.invoke(fleet_app, ["remote", *args, "T-0306",
                                         "--manager", stack.manager.url])

    logs = kioskctl("logs", "--lines", "2")
    assert logs.exit_code == 0, logs.output
    assert logs.stdout.splitlines() == ["booted", "reader saw 110105********0018"]

    out = tmp_path / "shot.png"
    shot = runner.invoke(fleet_app, ["remote", "screenshot", "T-0306", "--out", str(out),
                                     "--manager", stack.manager.url])
    assert shot.exit_code == 0, shot.output
    assert Image.open(out).size == (320, 200)

    on = runner.invoke(fleet_app, ["remote", "maintenance", "T-0306", "--on", "--reason",
                                   "swap", "--manager", stack.manager.url])
    assert on.exit_code == 0 and "maintenance on" in on.stdout
    kiosk.session(True)
    refused = kioskctl("reboot")
    assert refused.exit_code == 1 and "session-active" in refused.output
    assert terminal.reboot_count() == 0
