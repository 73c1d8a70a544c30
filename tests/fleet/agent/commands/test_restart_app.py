"""`restart-app`: the core's answer (pure), and the shell's run of the restart command."""

from __future__ import annotations

import sys
from pathlib import Path

from fleet.agent.shell_commands import ok
from fleet.protocol import CommandStatus, encode
from tests.fleet.agent.commands.support import answer, command, settings_for, shell, with_work, work
from tests.fleet.agent.control_stub import StubKiosk


def _hook(tmp_path: Path, exit_status: int = 0, hang: bool = False) -> list[str]:
    script = tmp_path / "restart.py"
    script.write_text(
        "import pathlib, signal, sys\n"
        + ("signal.pause()  # a hook that never returns: only the deadline's kill ends it\n"
           if hang else "")
        + f"with pathlib.Path({str(tmp_path / 'ran')!r}).open('a') as f: f.write('x')\n"
        f"sys.exit({exit_status})\n")
    return [sys.executable, str(script)]


def _runs(tmp_path: Path) -> int:
    ran = tmp_path / "ran"
    return len(ran.read_text()) if ran.exists() else 0


def test_core_answers_from_the_work_and_refuses_arguments() -> None:
    cmd = command("restart-app")
    assert answer(with_work(cmd, ok(exit_status=0))).output == {"exit_status": 0}
    bad = answer(encode(command("restart-app", force=True)))
    assert bad.status is CommandStatus.REJECTED and "no arguments" in bad.output["error"]
    # Without a shell that did the work (the simulator): an error, never a made-up success.
    alone = answer(encode(cmd))
    assert alone.status is CommandStatus.ERROR


def test_runs_the_configured_restart_command(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk, restart_command=_hook(tmp_path))
    result = work(settings, command("restart-app"))
    assert (result.status, result.output) == (CommandStatus.OK, {"exit_status": 0})
    assert _runs(tmp_path) == 1


def test_a_failing_command_answers_its_exit_status(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk, restart_command=_hook(tmp_path, exit_status=3))
    result = work(settings, command("restart-app"))
    assert result.status is CommandStatus.ERROR
    assert result.output == {"error": "exited with 3", "exit_status": 3}


def test_a_hung_command_is_killed_at_its_deadline(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk, restart_command=_hook(tmp_path, hang=True),
                            restart_timeout_s=0.5)
    result = work(settings, command("restart-app"))
    assert result.output == {"error": "timed-out", "timeout_s": 0.5}
    assert _runs(tmp_path) == 0


def test_a_missing_program_is_an_error(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk, restart_command=[str(tmp_path / "nope")])
    result = work(settings, command("restart-app"))
    assert result.status is CommandStatus.ERROR and result.output["error"] == "cannot-run"


def test_the_same_command_never_restarts_twice(tmp_path: Path, kiosk: StubKiosk) -> None:
    """The restart may end the agent before the answer is kept: the redelivery after it is
    answered from the marker, not run again."""
    settings = settings_for(tmp_path, kiosk, restart_command=_hook(tmp_path))
    cmd = command("restart-app", cid="r-1")
    work(settings, cmd)
    again, _ = shell(settings)  # a new agent process on the same state directory
    result = again.run(cmd, {})
    assert result == ok(ran_before=True, rebooted=False)
    assert _runs(tmp_path) == 1
    work(settings, command("restart-app", cid="r-2"))  # another command does run
    assert _runs(tmp_path) == 2
