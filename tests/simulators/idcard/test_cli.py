"""`kioskctl sim idcard ...` end to end: the simulator as a real process (the stack's spec),
driven by the CLI, read by the real serial driver through its pty link."""

from __future__ import annotations

import json
import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drivers.base import DeviceEvent
from drivers.idcard.interface import IdCardFailure, IdCardRead, IdCardReadFailed, IdCardRemoved
from drivers.idcard.serial import SerialIdCardReader
from simulators.central.population import Population
from simulators.idcard.cli import idcard_app
from simulators.idcard.stack import IdCardSim, idcard_sim
from simulators.stack import services
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised

WAIT_S = 10.0


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdCardSim]:
    workdir = tmp_path_factory.mktemp("idcard-sim")
    with supervised(workdir / "logs") as sup:
        try:
            service = idcard_sim(workdir, population=100)
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


def kioskctl(sim: IdCardSim, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `kioskctl sim idcard ...` command line, as a process."""
    result = subprocess.run(
        [*services.kioskctl("sim", "idcard", *args), "--control-url", sim.url],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def cli(sim: IdCardSim, *args: str, code: int = 0) -> str:
    """The same commands in this process (Typer's runner): much faster than a new interpreter."""
    result = CliRunner().invoke(idcard_app, [*args, "--control-url", sim.url])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def events(sim: IdCardSim) -> Iterator[queue.Queue[DeviceEvent]]:
    q: queue.Queue[DeviceEvent] = queue.Queue()
    driver = SerialIdCardReader(**sim.kiosk_options(), poll_interval_s=0.05)
    driver.subscribe(lambda e: q.put(e) if isinstance(
        e, IdCardRead | IdCardReadFailed | IdCardRemoved) else None)
    driver.start()
    try:
        yield q
    finally:
        driver.stop()


def test_help_names_every_command() -> None:
    result = CliRunner().invoke(idcard_app, ["--help"])
    for command in ("serve", "place", "remove", "fault", "clear-faults", "unplug", "replug",
                    "status"):
        assert command in result.output
    assert "--link" in CliRunner().invoke(idcard_app, ["serve", "--help"]).output


def test_the_cli_places_a_card_the_driver_reads_and_removes_it(
    sim: IdCardSim, events: queue.Queue[DeviceEvent],
) -> None:
    citizen = Population(42, 100).citizen(17)
    placed = json.loads(kioskctl(sim, "place", "--citizen-index", "17").stdout)  # a real process
    assert placed["card"]["citizen_index"] == 17 and citizen.citizen_id not in json.dumps(placed)
    read = events.get(timeout=WAIT_S)
    assert isinstance(read, IdCardRead) and read.data.citizen_id == citizen.citizen_id
    cli(sim, "remove")
    assert isinstance(events.get(timeout=WAIT_S), IdCardRemoved)

    cli(sim, "place", "--citizen-index", "18", "--expired")
    expired = events.get(timeout=WAIT_S)
    assert isinstance(expired, IdCardReadFailed) and expired.failure is IdCardFailure.EXPIRED
    cli(sim, "remove")
    assert isinstance(events.get(timeout=WAIT_S), IdCardRemoved)

    cli(sim, "fault", "bad-checksum")
    cli(sim, "place", "--citizen-index", "19")
    bad = events.get(timeout=WAIT_S)
    assert isinstance(bad, IdCardReadFailed) and bad.failure is IdCardFailure.BAD_FRAME
    cli(sim, "clear-faults")
    cli(sim, "remove")
    assert isinstance(events.get(timeout=WAIT_S), IdCardRemoved)


def test_unplug_and_replug_from_the_cli(sim: IdCardSim, events: queue.Queue[DeviceEvent]) -> None:
    cli(sim, "place", "--citizen-index", "20", "--valid-until", "长期")
    assert isinstance(events.get(timeout=WAIT_S), IdCardRead)
    assert json.loads(cli(sim, "unplug"))["plugged"] is False
    assert not Path(sim.link).exists()
    assert isinstance(events.get(timeout=WAIT_S), IdCardRemoved)
    assert json.loads(cli(sim, "replug"))["plugged"] is True
    assert isinstance(events.get(timeout=WAIT_S), IdCardRead)  # still on it: read again
    cli(sim, "remove")
    assert isinstance(events.get(timeout=WAIT_S), IdCardRemoved)


def test_cli_errors_are_short_messages(sim: IdCardSim) -> None:
    missing = kioskctl(sim, "place", "--citizen-id", "110105194912310021", check=False)
    assert missing.returncode == 1 and "404" in missing.stderr
    assert "use one of" in cli(sim, "fault", "fire", code=2)
    status = json.loads(cli(sim, "status"))
    assert status["link"] == str(sim.link)
