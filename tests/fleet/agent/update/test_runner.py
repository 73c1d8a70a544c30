"""The update runner in-process, against a real HTTP kiosk status endpoint and a real restart
script (the real agent processes are in test_stack_updates.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.update.health import TerminalStatus
from fleet.agent.update.runner import JobEnd, RunnerConfig, UpdateRunner
from tests.fleet.agent.update.conftest import Terminal
from tests.fleet.agent.update.support import CLIENT


def _runner(t: Terminal, tmp_path: Path, **config: Any) -> UpdateRunner:
    cfg = RunnerConfig(install_root=t.root, work_dir=tmp_path / "state" / "update",
                       metadata_dir=tmp_path / "tuf", repository_url=t.repo.url, client=CLIENT,
                       restart_command=(str(t.hook),), commit_deadline_s=3.0, poll_s=0.05,
                       **config)
    return UpdateRunner(cfg, TerminalStatus(t.kiosk.url, 1.0, None, 1.0, threading.Event()))


def _run(runner: UpdateRunner, args: dict[str, Any], name: str = "update",
         job_id: str = "j-1") -> tuple[JobEnd | None, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    end = runner.run(job_id, name, args, lambda p, out: seen.append(out), threading.Event())
    return end, seen


def _update(version: str, **extra: Any) -> dict[str, Any]:
    return {"target": f"kiosk/k-{version}.tar.gz", "version": version, **extra}


def test_a_good_release_commits(terminal: Terminal, tmp_path: Path) -> None:
    end, seen = _run(_runner(terminal, tmp_path), _update("1.1.0"))
    assert end == JobEnd("", {"phase": "committed", "version": "1.1.0"})
    phases = list(dict.fromkeys(o["phase"] for o in seen))
    assert phases == ["download", "verify", "install", "wait-lock", "switch", "commit"]
    assert (terminal.slots.current(), terminal.slots.previous()) == ("b", "a")
    assert terminal.restarts() == ["1.1.0"]
    assert list((tmp_path / "state" / "update" / "downloads").iterdir()) == []  # cleaned up


def test_a_release_that_never_becomes_healthy_rolls_back(terminal: Terminal,
                                                         tmp_path: Path) -> None:
    end, _ = _run(_runner(terminal, tmp_path), _update("1.2.0"))
    assert end is not None
    assert end.error.startswith("unhealthy: card_reader does not answer (driver-unavailable)")
    assert end.output == {"phase": "rolled-back", "reason": "unhealthy",
                          "running_version": "1.0.0"}
    assert terminal.slots.current_version() == "1.0.0"
    assert terminal.restarts() == ["1.2.0", "1.0.0"]


def test_same_version_succeeds_at_once_unless_forced(terminal: Terminal,
                                                     tmp_path: Path) -> None:
    end, _ = _run(_runner(terminal, tmp_path), _update("1.1.0"))
    end, seen = _run(_runner(terminal, tmp_path), _update("1.1.0"), job_id="j-2")
    assert end == JobEnd("", {"phase": "committed", "version": "1.1.0",
                              "reason": "already-running"})
    assert seen == [] and terminal.restarts() == ["1.1.0"]


@pytest.mark.parametrize(("args", "reason"), [
    (_update("0.9.0"), "rollback"),  # older than what runs: TUF orders metadata, not releases
    ({"target": "kiosk/none.tar.gz", "version": "2.0.0"}, "not-found"),
    ({"target": "kiosk/k-1.1.0.tar.gz", "version": "1.1.1"}, "not-found"),  # signed as 1.1.0
    (_update("1.3.0"), "unknown-key"),
], ids=["older", "unsigned-target", "version-mismatch", "client-refusal"])
def test_refusals_change_nothing(terminal: Terminal, tmp_path: Path, args: dict[str, Any],
                                 reason: str) -> None:
    terminal.repo.publish("kiosk/k-1.3.0.tar.gz", terminal.repo.root / "kiosk/k-1.1.0.tar.gz",
                          "1.3.0", refuse="unknown-key")
    end, _ = _run(_runner(terminal, tmp_path), args)
    assert end is not None and end.error.startswith(f"{reason}: ")
    assert end.output == {"phase": "refused", "reason": reason, "running_version": "1.0.0"}
    assert terminal.slots.current() == "a" and terminal.restarts() == []


def test_rollback_job(terminal: Terminal, tmp_path: Path) -> None:
    runner = _runner(terminal, tmp_path)
    _run(runner, _update("1.1.0"))
    end, _ = _run(runner, {"to_version": "0.5.0"}, "rollback", "r-1")
    assert end is not None and end.output["reason"] == "no-previous-slot"
    assert terminal.slots.current_version() == "1.1.0"
    end, _ = _run(runner, {"to_version": "1.0.0"}, "rollback", "r-2")
    assert end == JobEnd("", {"phase": "rolled-back", "version": "1.0.0"})
    assert terminal.slots.current() == "a" and terminal.restarts() == ["1.1.0", "1.0.0"]


def test_outside_the_maintenance_window_it_waits(terminal: Terminal, tmp_path: Path) -> None:
    from fleet.agent.update.health import Window

    runner = _runner(terminal, tmp_path, window=Window.parse("03:00-03:01"))
    runner._clock = lambda: 1_700_000_000.0  # 06:13 China time
    stop = threading.Event()
    waiting = threading.Event()

    def report(progress: float, out: dict[str, Any]) -> None:
        if out.get("waiting") == "outside the maintenance window":
            waiting.set()
            stop.set()

    assert runner.run("j-1", "update", _update("1.1.0"), report, stop) is None
    assert waiting.is_set() and terminal.slots.current() == "a"
