"""`kioskctl sim printer ...`: `serve` as a real process, driven by the CLI, printed to by the
production driver over its TCP port and its pty."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from drivers.base import DeviceEvent
from drivers.printer.escpos import EscPosPrinter
from drivers.printer.interface import PrintCompleted, ReceiptDocument, ReceiptLine
from simulators.printer.cli import printer_app
from simulators.printer.service import PrinterSimService, stack_spec
from simulators.stack.ports import free_port
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for


@pytest.fixture(scope="module")
def printer_service(tmp_path_factory) -> Iterator[PrinterSimService]:
    workdir = tmp_path_factory.mktemp("printer-sim-cli")
    with supervised(workdir / "logs") as sup:
        service = stack_spec(workdir)
        try:
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(printer_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def print_one(connection: str, title: str) -> None:
    device = EscPosPrinter(connection, poll_interval_s=0.1)
    events: queue.Queue[DeviceEvent] = queue.Queue()
    device.subscribe(events.put)
    device.start()
    try:
        wait_for(lambda: device.health().code == "ok", "the printer to be ok")
        job = device.submit(ReceiptDocument(title, (ReceiptLine("参保证明"),)))
        while not (isinstance(e := events.get(timeout=10), PrintCompleted) and e.job_id == job):
            pass
    finally:
        device.stop()


def test_the_cli_drives_a_running_printer(printer_service, tmp_path) -> None:
    url = printer_service.control_url
    assert run("clear", "--url", url)[0] == 0
    print_one(printer_service.connection, "经TCP")
    print_one(str(printer_service.pty_link), "经串口")
    code, out, _ = run("jobs", "--url", url, "--png", str(tmp_path))
    assert code == 0
    jobs = json.loads(out)
    assert [j["text"].splitlines()[0] for j in jobs] == ["经TCP", "经串口"]
    assert all(j["complete"] for j in jobs)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"job-{j['id']}.png" for j in jobs]
    wait_for((printer_service.out_dir / f"job-{jobs[-1]['id']}.png").exists,
             "the job's PNG in --out")

    code, out, _ = run("paper", "out", "--after-lines", "3", "--url", url)
    assert code == 0 and json.loads(out)["lines_left"] == 3
    code, out, _ = run("paper", "low", "--url", url)
    assert json.loads(out)["paper"] == "low"
    assert json.loads(run("cover", "open", "--url", url)[1])["cover_open"] is True
    assert json.loads(run("cover", "closed", "--url", url)[1])["cover_open"] is False
    assert json.loads(run("online", "silent", "--url", url)[1])["silent"] is True
    assert json.loads(run("online", "online", "--url", url)[1])["online"] is True
    assert json.loads(run("paper", "ok", "--url", url)[1])["paper"] == "ok"
    status = json.loads(run("status", "--url", url)[1])
    assert status["tcp"] == printer_service.connection


def test_mistakes_are_explained(printer_service) -> None:
    url = printer_service.control_url
    code, _, err = run("paper", "gone", "--url", url)
    assert code == 1 and "422" in err
    code, _, err = run("cover", "ajar", "--url", url)
    assert code == 2 and "open or closed" in err


def test_an_absent_simulator_is_reported() -> None:
    code, _, err = run("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "not reachable" in err
