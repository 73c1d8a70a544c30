"""`kioskctl sim card ...` end to end: the service as a real process, driven by the CLI, read by
the real driver through pcscd."""

from __future__ import annotations

import json
import queue
import subprocess
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from drivers.base import HealthChanged
from drivers.card.interface import CardFailure, CardInserted, CardRead, CardReadFailed, CardRemoved
from drivers.card.pcsc import PcscCardReader
from simulators.card.cli import card_app
from simulators.stack import services
from simulators.stack.supervisor import ProcessFailed
from tests.drivers.card.authoriser import key_centre_authoriser
from tests.harness.stack import fail_on_missing, supervised
from tests.simulators.card.vcard import reader_name, wait_reader

EVENT_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def card_service(pcscd, tmp_path_factory) -> Iterator[services.HttpService]:
    with supervised(tmp_path_factory.mktemp("card-sim") / "logs") as sup:
        try:
            service = services.card_sim(pcscd.vpcd_port)
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


def kioskctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        services.kioskctl("sim", "card", *args), capture_output=True, text=True, timeout=60,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def events(pcscd) -> Iterator[queue.Queue]:
    q: queue.Queue = queue.Queue()
    driver = PcscCardReader(reader_name(0), poll_timeout_s=0.2)
    driver.subscribe(lambda e: None if isinstance(e, HealthChanged) else q.put(e))
    driver.start()
    try:
        yield q
    finally:
        driver.stop()


def test_help_names_every_command_and_flag():
    runner = CliRunner()
    top = runner.invoke(card_app, ["--help"])
    assert top.exit_code == 0
    for command in ("serve", "insert", "insert-psam", "remove", "pin", "status"):
        assert command in top.output
    serve = runner.invoke(card_app, ["serve", "--help"], terminal_width=200)
    for flag in ("--vpcd-host", "--vpcd-port", "--control-host", "--control-port", "--seed",
                 "--population"):
        assert flag in serve.output
    insert = runner.invoke(card_app, ["insert", "--help"], terminal_width=200)
    for flag in ("--control-url", "--citizen-index", "--citizen-id", "--generation",
                 "--protocol", "--pull-after-apdus", "--slot", "--mute", "--latency-ms",
                 "--stall-after-apdus", "--locked", "--name", "--name-hex", "--pin",
                 "--pin-tries", "--pin-locked", "--foreign-keys"):
        assert flag in insert.output
    pin = runner.invoke(card_app, ["pin", "--help"], terminal_width=200)
    for flag in ("--set", "--tries", "--lock", "--unlock", "--slot"):
        assert flag in pin.output


def test_insert_read_remove_through_the_cli(card_service, events, population):
    url = card_service.url
    citizen = population.citizen(1)

    inserted = json.loads(kioskctl("insert", "--control-url", url, "--citizen-index", "1",
                                   "--protocol", "T=1").stdout)
    assert inserted["state"] == "inserted" and inserted["card"]["protocol"] == "T=1"
    assert citizen.citizen_id not in json.dumps(inserted, ensure_ascii=False)

    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardInserted)
    read = events.get(timeout=EVENT_TIMEOUT_S)
    assert isinstance(read, CardRead), read
    assert read.data.citizen_id == citizen.citizen_id

    status = json.loads(kioskctl("status", "--control-url", url).stdout)
    assert status["slots"][0]["card"]["apdus"] > 0

    removed = json.loads(kioskctl("remove", "--control-url", url).stdout)
    assert removed["removed"] is True
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardRemoved)


def test_pull_mid_read_through_the_cli(card_service, events):
    kioskctl("insert", "--control-url", card_service.url, "--citizen-index", "1",
             "--pull-after-apdus", "3")
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardInserted)
    failed = events.get(timeout=EVENT_TIMEOUT_S)
    assert isinstance(failed, CardReadFailed) and failed.failure is CardFailure.REMOVED
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardRemoved)
    slot = json.loads(kioskctl("status", "--control-url", card_service.url).stdout)["slots"][0]
    assert slot["state"] == "pulled"
    kioskctl("remove", "--control-url", card_service.url)


def test_a_locked_card_and_a_gb18030_name_through_the_cli(card_service, events):
    url = card_service.url
    kioskctl("insert", "--control-url", url, "--citizen-index", "1", "--locked", "6a81")
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardInserted)
    failed = events.get(timeout=EVENT_TIMEOUT_S)
    assert isinstance(failed, CardReadFailed) and failed.failure is CardFailure.LOCKED
    kioskctl("remove", "--control-url", url)
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardRemoved)

    kioskctl("insert", "--control-url", url, "--citizen-index", "1", "--name", "王䶮")
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardInserted)
    read = events.get(timeout=EVENT_TIMEOUT_S)
    assert isinstance(read, CardRead) and read.data.name == "王䶮"
    kioskctl("remove", "--control-url", url)
    assert isinstance(events.get(timeout=EVENT_TIMEOUT_S), CardRemoved)


def test_gen3_with_the_psam_and_a_locked_pin_through_the_cli(card_service, pcscd):
    """The kiosk's gen-3 and PIN paths, set up from the CLI as a tester would."""
    from drivers.card.interface import Pin, PinOutcome, StaffCredential

    url = card_service.url
    q: queue.Queue = queue.Queue()
    driver = PcscCardReader(None, poll_timeout_s=0.2, sam_reader=reader_name(1))
    driver.subscribe(lambda e: None if isinstance(e, HealthChanged) else q.put(e))
    driver.start()
    try:
        psam = json.loads(kioskctl("insert-psam", "--control-url", url).stdout)
        assert psam["slot"] == 1 and psam["card"]["kind"] == "psam"
        wait_reader(reader_name(1), present=True)
        kioskctl("insert", "--control-url", url, "--citizen-index", "1", "--generation", "3",
                 "--pin-locked")
        assert isinstance(q.get(timeout=EVENT_TIMEOUT_S), CardInserted)
        read = q.get(timeout=EVENT_TIMEOUT_S)
        assert isinstance(read, CardRead) and read.data.psam_authenticated, read
        assert driver.verify_pin(Pin("123456")).outcome is PinOutcome.LOCKED

        reloaded = driver.reload_pin(
            Pin("135790"), StaffCredential("S0001", "246810"), key_centre_authoriser()
        )
        assert reloaded.ok, reloaded
        status = json.loads(kioskctl("status", "--control-url", url).stdout)["slots"][0]
        assert status["card"]["pin_tries"] == 3
        locked = json.loads(kioskctl("pin", "--control-url", url, "--lock").stdout)
        assert locked["card"]["pin_locked"] is True

        kioskctl("remove", "--control-url", url, "--slot", "1")  # the PSAM out: no card event
        kioskctl("remove", "--control-url", url)
        assert isinstance(q.get(timeout=EVENT_TIMEOUT_S), CardRemoved)
        wait_reader(reader_name(1), present=False)
        assert q.empty()
    finally:
        driver.stop()


def test_errors_go_to_stderr_with_a_failing_status(card_service):
    result = kioskctl("insert", "--control-url", card_service.url, "--citizen-index", "99999",
                      check=False)
    assert result.returncode == 1
    assert "404" in result.stderr and result.stdout == ""
    bad = kioskctl("insert", "--control-url", card_service.url, "--protocol", "T=2", check=False)
    assert bad.returncode != 0 and "T=0 or T=1" in bad.stderr


def test_an_unreachable_service_is_reported(card_service):
    from simulators.stack.ports import free_port

    result = kioskctl("status", "--control-url", f"http://127.0.0.1:{free_port()}", check=False)
    assert result.returncode == 1
    assert "not reachable" in result.stderr


def test_the_service_removes_its_cards_when_it_stops(pcscd, tmp_path):
    with supervised(tmp_path / "logs") as sup:
        service = services.card_sim(pcscd.vpcd_port)
        process = sup.start(service.spec)
        kioskctl("insert", "--control-url", service.url, "--citizen-index", "2", "--slot", "1")
        wait_reader(reader_name(1), present=True)
        process.stop()
        wait_reader(reader_name(1), present=False)
        log = process.log_path.read_text()
    assert "card inserted in slot 1" in log
    # The log names citizens by population index only.
    from simulators.central.population import Population

    citizen = Population(42, 5000).citizen(2)
    assert citizen.citizen_id not in log and citizen.name not in log
