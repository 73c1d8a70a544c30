"""`reboot`: never while a citizen session is open (refused, "session-active")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fleet.protocol import CommandStatus, encode
from tests.fleet.agent.commands.support import answer, command, settings_for, shell, work
from tests.fleet.agent.control_stub import StubKiosk


@pytest.fixture
def hook(tmp_path: Path) -> list[str]:
    script = tmp_path / "reboot.py"
    script.write_text(f"open({str(tmp_path / 'rebooted')!r}, 'a').write('x')\n")
    return [sys.executable, str(script)]


def _reboots(tmp_path: Path) -> int:
    f = tmp_path / "rebooted"
    return len(f.read_text()) if f.exists() else 0


@pytest.mark.parametrize("args", [{"force": "yes"}, {"now": True}])
def test_core_rejects_bad_arguments(args: dict) -> None:
    assert answer(encode(command("reboot", **args))).status is CommandStatus.REJECTED


def test_refused_during_a_session_and_run_after_it(
    tmp_path: Path, kiosk: StubKiosk, hook: list[str]
) -> None:
    settings = settings_for(tmp_path, kiosk, reboot_command=hook)
    kiosk.session(True)
    refused = work(settings, command("reboot", cid="b-1"))
    assert (refused.status, refused.output) == (CommandStatus.ERROR, {"error": "session-active"})
    # force covers a silent kiosk only, never a session it reports.
    forced = work(settings, command("reboot", cid="b-2", force=True))
    assert forced.output == {"error": "session-active"}
    assert _reboots(tmp_path) == 0

    kiosk.session(False)
    done = work(settings, command("reboot", cid="b-3"))
    assert (done.status, done.output) == (CommandStatus.OK, {"exit_status": 0})
    assert _reboots(tmp_path) == 1


def test_a_silent_kiosk_holds_the_reboot_unless_forced(
    tmp_path: Path, kiosk: StubKiosk, hook: list[str]
) -> None:
    settings = settings_for(tmp_path, kiosk, reboot_command=hook,
                            kiosk_control_timeout_s=0.5)
    kiosk.close()  # nobody answers: nobody can say the terminal is free
    refused = work(settings, command("reboot", cid="s-1"))
    assert refused.status is CommandStatus.ERROR
    assert refused.output["error"] == "kiosk-unavailable"
    assert _reboots(tmp_path) == 0
    forced = work(settings, command("reboot", cid="s-2", force=True))
    assert forced.status is CommandStatus.OK and _reboots(tmp_path) == 1


def test_a_redelivery_after_the_reboot_does_not_reboot_again(
    tmp_path: Path, kiosk: StubKiosk, hook: list[str]
) -> None:
    settings = settings_for(tmp_path, kiosk, reboot_command=hook)
    cmd = command("reboot", cid="once")
    work(settings, cmd)
    after, _ = shell(settings)  # the agent of the next boot (here: the same boot)
    assert after.run(cmd, {"force": False}) == {
        "status": "ok", "output": {"ran_before": True, "rebooted": False}}
    assert _reboots(tmp_path) == 1
