"""`kioskctl fleet rollouts …` as an operator runs it, against a real manager process on a real
Mosquitto with simulated terminals: create, watch with its progress bar to the end (exit 0 on
success, 1 on an abort), pause and resume, abort, list; an unreachable manager is a one-line
error and exit 2, never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli import fleet_app
from simulators.stack.ports import free_port
from tests.fleet.manager.rollouts.stack import served_manager
from tests.fleet.manager.rollouts.test_stack_rollouts import _get
from tests.harness.waiting import wait_for

IDS = [f"C-{i:02d}" for i in range(6)]
TARGET = ["--target", "kiosk/hrss-kiosk-1.4.0.tar.gz", "--version", "1.4.0"]


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_manager(tmp_path_factory.mktemp("rollouts-cli"), IDS, bad={"C-05"},
                        client_id="cli-terminals") as served:
        yield served.url


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(fleet_app, ["rollouts", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _create(manager: str, *extra: str) -> dict:
    code, out = _run("create", *TARGET, *extra, "--manager", manager)
    assert code == 0, out
    return json.loads(out)


def test_create_then_watch_shows_the_bar_to_the_end(manager: str) -> None:
    # C-05 never becomes healthy; thresholds that tolerate it: the rollout succeeds with it
    # failed, and the bar counts it.
    rollout = _create(manager, "--groups", "2,rest", "--name", "good",
                      "--success-threshold", "50", "--error-threshold", "100")
    assert (rollout["total"], rollout["groups"]) == (len(IDS), 2)
    code, out = _run("watch", rollout["id"], "--interval", "0.2", "--manager", manager)
    bars = re.findall(r"\[([#-]{30})\] (\d+)/(\d+)  ok (\d+)  failed (\d+)", out)
    assert bars, out
    assert all(int(total) == len(IDS) for _, _, total, _, _ in bars)
    done = [int(d) for _, d, _, _, _ in bars]
    assert done == sorted(done)  # progress only goes forward
    bar, last, _, ok, failed = bars[-1]
    assert (bar, int(last), int(ok), int(failed)) == ("#" * 30, 6, 5, 1)
    assert "succeeded" in out.splitlines()[-1]
    assert code == 0


def test_pause_resume_abort_and_list(manager: str) -> None:
    # A slow rate: one terminal a second, so there is time to act on it.
    rollout = _create(manager, "--groups", "rest", "--rate", "60", "--name", "slow",
                      "--force", "--error-threshold", "100")
    code, out = _run("pause", rollout["id"], "--manager", manager)
    assert code == 0 and "  paused  " in out, out
    code, out = _run("resume", rollout["id"], "--manager", manager)
    assert code == 0 and "  running  " in out, out
    code, out = _run("abort", rollout["id"], "--manager", manager)
    assert code == 0, out
    assert re.search(r"  (aborting|aborted)  ", out), out
    wait_for(lambda: (r := _get(manager + "/api/v1", rollout["id"])) and r["finished_at"],
             "the abort to settle")
    code, out = _run("list", "--manager", manager)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(rollout["id"]))
    assert "  slow  aborted  " in line, line
    # Watching a finished, aborted rollout ends at once and says so.
    code, out = _run("watch", rollout["id"], "--manager", manager)
    assert code == 1 and "aborted" in out


def test_an_operator_mistake_is_one_clear_line(manager: str) -> None:
    code, out = _run("pause", "no-such-rollout", "--manager", manager)
    assert code == 1 and out.startswith("error: ") and "Traceback" not in out, out
    code, out = _run("create", "--target", "../etc/passwd", "--version", "1.4.0",
                     "--manager", manager)
    assert code == 1 and out.startswith("error: "), out


def test_an_unreachable_manager_is_exit_2(tmp_path: Path) -> None:
    code, out = _run("list", "--manager", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and out.startswith("error: ") and "Traceback" not in out, out
