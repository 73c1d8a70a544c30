"""The serial driver through a real pty, against the simulated reader (simulators/idcard)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import DeviceEvent, HealthChanged
from drivers.idcard.interface import (
    IdCardFailure,
    IdCardRead,
    IdCardReader,
    IdCardReadFailed,
    IdCardRemoved,
)
from drivers.idcard.serial import SIMULATOR_LINK, SerialIdCardReader
from drivers.registry import REGISTRY, Impl, PeripheralKind
from simulators.central.population import Citizen, Population
from simulators.idcard import DEFAULT_LINK
from simulators.idcard.cards import card_for_citizen
from simulators.idcard.device import IdCardDevice
from tests.harness.waiting import wait_for

TODAY = dt.date(2026, 12, 2)
WAIT_S = 10.0
CARD_EVENTS = (IdCardRead, IdCardReadFailed, IdCardRemoved)


@pytest.fixture(scope="module")
def people() -> Population:
    return Population(42, 50)


class Events:
    def __init__(self) -> None:
        self.queue: queue.Queue[DeviceEvent] = queue.Queue()
        self.all: list[DeviceEvent] = []

    def __call__(self, event: DeviceEvent) -> None:
        self.all.append(event)
        self.queue.put(event)

    def next_card_event(self) -> DeviceEvent:
        while True:
            event = self.queue.get(timeout=WAIT_S)
            if isinstance(event, CARD_EVENTS):
                return event

    def health(self, code: str) -> HealthChanged:
        while True:
            event = self.queue.get(timeout=WAIT_S)
            if isinstance(event, HealthChanged) and event.health.code == code:
                return event

    def card_events(self) -> list[DeviceEvent]:
        return [e for e in self.all if isinstance(e, CARD_EVENTS)]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[IdCardDevice]:
    sim = IdCardDevice(tmp_path / "idcard" / "reader.tty")
    yield sim
    sim.close()


def make_reader(path: str, **options: object) -> SerialIdCardReader:
    settings: dict[str, object] = {"poll_interval_s": 0.02, "exchange_timeout_s": 0.3,
                                   "read_timeout_s": 1.0, "today": lambda: TODAY}
    return SerialIdCardReader(path, **(settings | options))  # type: ignore[arg-type]


@pytest.fixture
def running(device: IdCardDevice) -> Iterator[tuple[SerialIdCardReader, Events]]:
    reader = make_reader(device.path)
    events = Events()
    reader.subscribe(events)
    reader.start()
    events.health("ok")
    yield reader, events
    reader.stop()


def polls(device: IdCardDevice) -> int:
    return device.requests["2001"]


def test_a_card_is_read_once_per_presentation_and_its_removal_published(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
) -> None:
    reader, events = running
    assert isinstance(reader, IdCardReader)
    citizen: Citizen = people.citizen(3)
    device.place(card_for_citizen(citizen, TODAY))
    read = events.next_card_event()
    assert isinstance(read, IdCardRead) and read.reader == device.path
    data = read.data
    assert (data.citizen_id, data.name, data.gender, data.birth_date, data.ethnicity) == (
        citizen.citizen_id, citizen.name, citizen.gender, citizen.birth_date, citizen.ethnicity)
    assert len(data.photo) == 1024 and data.credential_fields()["citizen_id"] == citizen.citizen_id
    seen = polls(device)
    wait_for(lambda: polls(device) >= seen + 10, "ten more polls with the card still there")
    assert device.requests["3001"] == 1 and events.card_events() == [read]

    device.remove()
    assert isinstance(events.next_card_event(), IdCardRemoved)
    device.place(card_for_citizen(people.citizen(4), TODAY))
    again = events.next_card_event()
    assert isinstance(again, IdCardRead) and again.data.citizen_id == people.citizen(4).citizen_id
    assert device.requests["3001"] == 2 and reader.rejections() == {}


def test_a_bad_checksum_once_is_retried_and_one_that_stays_rejects_the_read(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
) -> None:
    reader, events = running
    device.fault("bad-checksum", count=1)
    device.place(card_for_citizen(people.citizen(1), TODAY))
    assert isinstance(events.next_card_event(), IdCardRead)
    assert reader.rejections() == {"bad-checksum": 1}
    device.remove()
    assert isinstance(events.next_card_event(), IdCardRemoved)

    device.fault("bad-checksum")
    device.place(card_for_citizen(people.citizen(2), TODAY))
    failed = events.next_card_event()
    assert isinstance(failed, IdCardReadFailed) and failed.failure is IdCardFailure.BAD_FRAME
    assert failed.detail.startswith("bad-checksum")
    assert reader.rejections() == {"bad-checksum": 3, "bad-frame": 1}
    device.remove()
    assert isinstance(events.next_card_event(), IdCardRemoved)


@pytest.mark.parametrize(("fault", "failure", "detail"), [
    ("garbage", IdCardFailure.BAD_FRAME, "garbage"),
    ("mute", IdCardFailure.UNRESPONSIVE, "no answer to READ_BASE"),
    ("read-fail", IdCardFailure.READ_FAILED, "read card failed"),
    ("bad-id", IdCardFailure.INVALID_DATA, "ID number: the check character"),
])
def test_faults_reject_the_read_with_their_reason(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
    fault: str, failure: IdCardFailure, detail: str,
) -> None:
    reader, events = running
    device.fault(fault)
    device.place(card_for_citizen(people.citizen(5), TODAY))
    failed = events.next_card_event()
    assert isinstance(failed, IdCardReadFailed)
    assert (failed.failure, detail in failed.detail) == (failure, True), failed.detail
    assert reader.rejections()[str(failure)] == 1
    device.remove()
    assert isinstance(events.next_card_event(), IdCardRemoved)


@pytest.mark.parametrize(("card", "failure", "detail"), [
    ({"expired": True}, IdCardFailure.EXPIRED, "valid until 2026-11-02"),
    ({"card_type": "J"}, IdCardFailure.UNSUPPORTED_CARD, "residence permit"),
    ({"card_type": "I"}, IdCardFailure.UNSUPPORTED_CARD, "permanent residence card"),
])
def test_expired_and_other_cards_are_refused(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
    card: dict[str, object], failure: IdCardFailure, detail: str,
) -> None:
    _, events = running
    device.place(card_for_citizen(people.citizen(6), TODAY, **card))  # type: ignore[arg-type]
    failed = events.next_card_event()
    assert isinstance(failed, IdCardReadFailed)
    assert failed.failure is failure and detail in failed.detail


def test_a_long_term_card_and_one_valid_today_are_read(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
) -> None:
    _, events = running
    device.place(card_for_citizen(people.citizen(7), TODAY, valid_until="长期"))
    first = events.next_card_event()
    assert isinstance(first, IdCardRead) and first.data.valid_until_text == "长期"
    device.place(card_for_citizen(people.citizen(8), TODAY, valid_until=TODAY))  # swapped
    # The reader saw a card all along: the new one is only read after a removal is seen.
    device.remove()
    assert isinstance(events.next_card_event(), IdCardRemoved)
    device.place(card_for_citizen(people.citizen(8), TODAY, valid_until=TODAY))
    second = events.next_card_event()
    assert isinstance(second, IdCardRead) and second.data.valid_until == TODAY


def test_no_card_fault_means_no_read(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
) -> None:
    _, events = running
    device.fault("no-card")
    device.place(card_for_citizen(people.citizen(9), TODAY))
    seen = polls(device)
    wait_for(lambda: polls(device) >= seen + 5, "polls answered 'no card'")
    assert events.card_events() == [] and device.requests["3001"] == 0
    device.clear_faults()
    assert isinstance(events.next_card_event(), IdCardRead)


def test_a_failing_sam_and_a_garbled_line_show_in_health(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events],
) -> None:
    reader, events = running
    device.fault("sam-fault")
    assert "SAM self-test failed" in events.health("sam-error").health.reason
    assert reader.health().state == "missing"
    device.clear_faults()
    events.health("ok")
    device.fault("garbage", on="find")
    assert "bad answers" in events.health("reader-error").health.reason
    device.clear_faults()
    events.health("ok")
    device.fault("mute", on="all")
    assert "no answer" in events.health("reader-error").health.reason


def test_unplugged_mid_presentation_then_plugged_back(
    device: IdCardDevice, running: tuple[SerialIdCardReader, Events], people: Population,
) -> None:
    reader, events = running
    device.place(card_for_citizen(people.citizen(10), TODAY))
    assert isinstance(events.next_card_event(), IdCardRead)
    device.unplug()
    assert isinstance(events.next_card_event(), IdCardRemoved)
    assert "went away" in events.health("reader-missing").health.reason
    device.replug()
    events.health("ok")
    read = events.next_card_event()  # the card still lies there: a new presentation
    assert isinstance(read, IdCardRead) and reader.health().code == "ok"


def test_a_port_that_appears_later_is_picked_up(tmp_path: Path, people: Population) -> None:
    link = tmp_path / "later" / "reader.tty"
    reader = make_reader(str(link))
    events = Events()
    reader.subscribe(events)
    reader.start()
    try:
        assert "cannot be opened" in events.health("reader-missing").health.reason
        device = IdCardDevice(link)
        try:
            events.health("ok")
            device.place(card_for_citizen(people.citizen(11), TODAY))
            assert isinstance(events.next_card_event(), IdCardRead)
        finally:
            device.close()
    finally:
        reader.stop()


def test_nothing_is_published_after_stop_even_mid_read(
    device: IdCardDevice, people: Population,
) -> None:
    reader = make_reader(device.path, read_timeout_s=2.0, exchange_timeout_s=0.3)
    events = Events()
    reader.subscribe(events)
    reader.start()
    events.health("ok")
    device.fault("mute")  # the read waits for an answer that never comes
    device.place(card_for_citizen(people.citizen(12), TODAY))
    wait_for(lambda: device.requests["3001"] >= 1, "the read in progress")
    thread = reader._thread
    assert thread is not None and thread.is_alive()
    reader.stop()
    reader.stop()  # idempotent
    # The read in progress saw stop() within a slice and ended: no thread of that run is left
    # to send or publish anything, and the read was not published.
    assert not thread.is_alive()
    assert events.card_events() == []

    device.clear_faults()
    reader.start()  # a new run
    try:
        events.health("ok")
        assert isinstance(events.next_card_event(), IdCardRead)
    finally:
        reader.stop()


def test_no_citizen_data_in_the_log(
    device: IdCardDevice, people: Population, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    reader = make_reader(device.path)
    events = Events()
    reader.subscribe(events)
    reader.start()
    try:
        citizen = people.citizen(13)
        device.place(card_for_citizen(citizen, TODAY))
        read = events.next_card_event()
        assert isinstance(read, IdCardRead)
        device.fault("bad-id")
        device.remove()
        events.next_card_event()
        device.place(card_for_citizen(citizen, TODAY))
        assert isinstance(events.next_card_event(), IdCardReadFailed)
    finally:
        reader.stop()
    text = caplog.text + repr(read)
    assert citizen.citizen_id not in text and citizen.name not in text
    assert citizen.citizen_id[6:14] not in text


def test_the_registry_builds_it_with_the_kiosks_options(device: IdCardDevice,
                                                         people: Population) -> None:
    assert SIMULATOR_LINK == DEFAULT_LINK
    simulated = REGISTRY.build(PeripheralKind.IDCARD, Impl.SIMULATED)
    assert isinstance(simulated, SerialIdCardReader) and simulated.port == SIMULATOR_LINK
    real = REGISTRY.build("idcard", "real")
    assert isinstance(real, SerialIdCardReader) and real.port == "/dev/ttyUSB0"
    # Options from the environment arrive as text.
    built = REGISTRY.build("idcard", "simulated", port=device.path, baudrate="115200",
                           poll_interval_s="0.02", today=lambda: TODAY)
    assert isinstance(built, SerialIdCardReader) and built.baudrate == 115200
    events = Events()
    built.subscribe(events)
    built.start()
    try:
        device.place(card_for_citizen(people.citizen(14), TODAY))
        assert isinstance(events.next_card_event(), IdCardRead)
    finally:
        built.stop()
    for bad in ({"baudrate": 1200}, {"parity": "E"}, {"port": ""}):
        refused = REGISTRY.build("idcard", "real", **bad)
        assert refused.health().code == "driver-unavailable", bad
    assert REGISTRY.build("idcard", "absent").health().code == "not-configured"


def test_the_kiosk_settings_choose_it_and_pass_its_port(device: IdCardDevice) -> None:
    from kiosk.peripherals.build import build_peripherals
    from kiosk.settings import KioskSettings

    settings = KioskSettings(
        peripherals={"idcard": "simulated"},  # type: ignore[arg-type]
        peripheral_options={"idcard": {"port": device.path, "baudrate": "57600"}},
    )
    built = build_peripherals(settings)[PeripheralKind.IDCARD]
    assert built.impl is Impl.SIMULATED and isinstance(built.device, SerialIdCardReader)
    assert (built.device.port, built.device.baudrate) == (device.path, 57600)
    assert KioskSettings().peripherals.idcard is Impl.ABSENT
