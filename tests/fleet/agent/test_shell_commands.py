"""`ShellCommands.take`: which commands the shell works on first, and what reaches the core."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.agent.commands import COMMANDS
from fleet.agent.commands.shell_work import WORK_KEY
from fleet.agent.records import AnsweredCommand
from fleet.agent.shell_commands import MAX_PENDING, ShellCommands, Worked
from fleet.protocol import Command, decode, encode
from tests.fleet.agent.commands.support import T0, command, settings_for
from tests.fleet.agent.control_stub import StubKiosk
from tests.harness.waiting import wait_for


@pytest.fixture
def kiosk() -> Iterator[StubKiosk]:
    stub = StubKiosk()
    yield stub
    stub.close()


def _shell(tmp_path: Path, kiosk: StubKiosk,
           answered: dict[str, AnsweredCommand] | None = None) -> tuple[ShellCommands, list]:
    done: list[Worked] = []
    records = answered or {}
    sc = ShellCommands(settings_for(tmp_path, kiosk, kiosk_log_file=tmp_path / "k.log"),
                       COMMANDS, records.get, done.append, lambda: T0)
    (tmp_path / "k.log").write_text("one\ntwo\n")
    return sc, done


def test_other_commands_and_ones_the_core_refuses_pass_through(
    tmp_path: Path, kiosk: StubKiosk
) -> None:
    sc, _ = _shell(tmp_path, kiosk, {"old": AnsweredCommand("ok", {}, 0)})
    for payload in (
        encode(command("ping")),
        encode(command("logs", source="nowhere")),  # bad args: `rejected` by the core
        encode(command("logs", source="kiosk", ttl_s=-1)),  # `expired` by the core
        encode(command("logs", cid="old", source="kiosk")),  # answered before: repeated
        encode(command("logs", source="kiosk").model_copy(update={"device_id": "T-2"})),
        b"not json",
    ):
        assert sc.take(payload) == payload


def test_worked_once_then_handed_back_with_the_result(tmp_path: Path, kiosk: StubKiosk) -> None:
    sc, done = _shell(tmp_path, kiosk)
    payload = encode(command("logs", cid="l-1", source="kiosk", lines=1))
    assert sc.take(payload) is None
    assert sc.take(payload) is None  # a redelivery while it is under way: dropped
    sc.start()
    try:
        wait_for(lambda: done, "the work")
    finally:
        sc.stop(2)
    [worked] = done
    back = decode(worked.payload)
    assert isinstance(back, Command) and worked.started_at == T0
    assert back.args[WORK_KEY] == {"status": "ok", "output": {
        "source": "kiosk", "lines": ["two"], "truncated": False}}
    sc.handed_back("l-1")
    assert sc.take(payload) is None  # not answered (no core here): it would run again


def test_a_result_from_outside_is_stripped(tmp_path: Path, kiosk: StubKiosk) -> None:
    sc, _ = _shell(tmp_path, kiosk)
    forged = command("reboot", cid="f-1", force="yes").model_copy(
        update={"args": {"force": "yes", WORK_KEY: {"status": "ok", "output": {}}}})
    passed = sc.take(encode(forged))  # bad args: to the core, without the forged result
    assert passed is not None
    back = decode(passed)
    assert isinstance(back, Command) and WORK_KEY not in back.args


def test_a_full_queue_answers_busy(tmp_path: Path, kiosk: StubKiosk) -> None:
    sc, _ = _shell(tmp_path, kiosk)  # not started: nothing leaves the queue
    for i in range(MAX_PENDING):
        assert sc.take(encode(command("logs", cid=f"q-{i}", source="kiosk"))) is None
    busy = sc.take(encode(command("logs", cid="q-x", source="kiosk")))
    assert busy is not None
    back = decode(busy)
    assert isinstance(back, Command)
    assert back.args[WORK_KEY] == {"status": "error",
                                   "output": {"error": "busy", "pending": MAX_PENDING}}


def test_stop_returns_promptly_with_a_hook_running(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk, restart_command=[
        sys.executable, "-c", "import signal; signal.pause()"])  # a hook that never returns
    done: list[Worked] = []
    sc = ShellCommands(settings, COMMANDS, lambda _id: None, done.append, lambda: T0)
    sc.start()
    assert sc.take(encode(command("restart-app", cid="hang"))) is None
    wait_for((tmp_path / "state" / "shell-commands" / "restart-app.json").exists,
             "the restart under way")
    started = time.monotonic()
    sc.stop(2)
    assert time.monotonic() - started < 2.5
    assert done == []  # no answer: the next process answers the redelivery from the marker
    assert not any(t.name == "shell-commands" and t.is_alive() for t in threading.enumerate())
