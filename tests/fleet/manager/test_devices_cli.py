"""`kioskctl fleet devices …` and `kioskctl fleet commands …` as an operator runs them, against a
real manager process on a real Mosquitto with simulated terminals; an unreachable manager or an
unknown terminal is a one-line error and an exit code, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from fleet.cli import fleet_app
from simulators.stack.ports import free_port
from tests.fleet.manager.rollouts.stack import ServedManager, served_manager
from tests.fleet.manager.rollouts.terminals import FakeTerminals
from tests.fleet.manager.rollouts.test_stack_rollouts import _wait_known

IDS = [f"D-{i:02d}" for i in range(3)]


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedManager]:
    with served_manager(tmp_path_factory.mktemp("devices-cli"), IDS,
                        client_id="devices-cli-terminals") as served:
        yield served


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(fleet_app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_every_terminal_with_its_presence_and_problems(
    manager: ServedManager,
) -> None:
    url = manager.url
    code, out, _ = _run("devices", "list", "--manager", url)
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.startswith("D-")]
    assert [r.split()[0] for r in rows] == IDS
    assert all(r.split()[1] == "online" and "1.3.0" in r for r in rows)
    assert out.rstrip().endswith("3 terminals, 3 online")
    # Paging: one at a time still gives every terminal, and --limit stops early.
    code, out, _ = _run("devices", "list", "--json", "--limit", "2", "--manager", url)
    assert code == 0 and [d["id"] for d in json.loads(out)] == IDS[:2]
    code, out, _ = _run("devices", "list", "--offline", "--manager", url)
    assert code == 0 and out.rstrip().endswith("0 terminals, 0 online")


def test_show_and_labels(manager: ServedManager) -> None:
    url = manager.url
    code, out, _ = _run("devices", "show", "D-01", "--manager", url)
    assert code == 0, out
    assert out.startswith("D-01") and "presence: birth" in out and "card_reader" in out
    code, out, _ = _run("devices", "labels", "D-01", "--region", "east", "--tag", "hall",
                        "--tag", "pilot", "--manager", url)
    assert code == 0 and out.strip() == "D-01: region east, tags hall, pilot"
    code, out, err = _run("devices", "show", "NOPE-1", "--manager", url)
    assert code == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1


def test_commands_send_prints_the_answer_and_show_reads_it_back(
    manager: ServedManager,
) -> None:
    url, fleet = manager.url, manager.fleet
    code, out, _ = _run("commands", "send", "D-02", "ping", "--arg", "n=3", "--key", "cli-ping-1",
                        "--manager", url)
    assert code == 0, out
    assert json.loads(out) == {}
    [received] = [r for r in fleet.of("ping", "D-02")]
    assert received.args == {"n": 3}
    # The same key again is the same command: answered, not sent twice.
    code, _, _ = _run("commands", "send", "D-02", "ping", "--arg", "n=3", "--key", "cli-ping-1",
                      "--manager", url)
    assert code == 0 and len(fleet.of("ping", "D-02")) == 1
    code, out, _ = _run("commands", "show", received.command_id, "--manager", url)
    assert code == 0 and json.loads(out)["status"] == "ok"


def test_no_answer_in_time_exits_3_and_an_unknown_terminal_exits_1(
    manager: ServedManager,
) -> None:
    url, broker_url = manager.url, manager.broker_url
    # A terminal that announced itself and went quiet: its command is sent, never answered.
    away = FakeTerminals(broker_url, ["AWAY-01"], client_id="devices-cli-away")
    away.announce()
    _wait_known(url + "/api/v1", ["AWAY-01"])
    away.close()
    code, _, err = _run("commands", "send", "AWAY-01", "ping", "--wait", "1", "--manager", url)
    assert code == 3 and "no answer yet" in err and "GET /api/v1/commands/" in err
    code, out, err = _run("commands", "send", "NOPE-1", "ping", "--manager", url)
    assert code == 1 and out == "" and err.strip() == "error: No such device:"


def test_an_unreachable_manager_is_one_line_and_exit_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("devices", "list"), ("commands", "show", "c1")):
        code, out, err = _run(*args, "--manager", url)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
