"""The new ways of identifying through the real drivers on their simulators' ptys, into the
flow: an e-SSC token typed by the virtual serial scanner, a resident ID card laid on the
virtual SAM-protocol reader. Each opens a session with exactly the contract's credential.

Driver events arrive on the drivers' threads; here they are handed to the flow on the test's
thread through a queue, as the app's bridge hands them to the UI thread.
"""

from __future__ import annotations

import datetime as dt
import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import DeviceEvent, HealthChanged
from drivers.idcard.serial import SerialIdCardReader
from drivers.qr.serial import SerialQrScanner
from kiosk.flow import KioskFlow, ScreenName
from simulators.central.population import Population
from simulators.idcard.cards import card_for_citizen
from simulators.idcard.device import IdCardDevice
from simulators.qr.pty import PtyScanner
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge
from tests.kiosk.flow.test_core import CONFIG

TOKEN = "eSSC_pty-7d1e0c2b3a4f5e6d7c8b9a0f"
TODAY = dt.date(2026, 12, 2)


class Bridge:
    def __init__(self) -> None:
        self.events: queue.Queue[DeviceEvent] = queue.Queue()

    def __call__(self, event: DeviceEvent) -> None:
        self.events.put(event)

    def pump_until(self, flow: KioskFlow, screen: ScreenName) -> None:
        """Hand the drivers' events to the flow until it shows `screen` (10 s at most)."""
        while flow.view.screen is not screen:
            flow.handle(self.events.get(timeout=10))


@pytest.fixture
def flow() -> tuple[KioskFlow, ManualTasks, ScriptedEdge]:
    edge, tasks = ScriptedEdge(), ManualTasks()
    return KioskFlow(edge, tasks, ManualClock(), CONFIG), tasks, edge


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[tuple[PtyScanner, SerialQrScanner, Bridge]]:
    with PtyScanner(tmp_path / "ttyQR0", seed=1) as pty:
        driver = SerialQrScanner(pty.path, debounce_s=0.0)
        bridge = Bridge()
        driver.subscribe(bridge)
        driver.start()
        try:
            yield pty, driver, bridge
        finally:
            driver.stop()


def test_a_token_scanned_on_the_serial_scanner_opens_a_qr_session(flow, scanner) -> None:
    kiosk, tasks, edge = flow
    pty, _driver, bridge = scanner
    while not kiosk.view.offers("qr"):  # the scanner's health says it is there
        kiosk.handle(bridge.events.get(timeout=10))
    pty.scan(TOKEN)
    bridge.pump_until(kiosk, ScreenName.IDENTIFYING)
    tasks.run_all()
    ((credential, _key),) = edge.open_calls
    assert credential.body() == {"method": "qr", "qr": {"token": TOKEN}}
    assert kiosk.view.screen is ScreenName.HOME


@pytest.fixture
def id_reader(tmp_path: Path) -> Iterator[tuple[IdCardDevice, Bridge]]:
    device = IdCardDevice(tmp_path / "idcard" / "reader.tty")
    reader = SerialIdCardReader(device.path, poll_interval_s=0.02, exchange_timeout_s=0.3,
                                read_timeout_s=1.0, today=lambda: TODAY)
    bridge = Bridge()
    reader.subscribe(bridge)
    reader.start()
    try:
        yield device, bridge
    finally:
        reader.stop()
        device.close()


def test_an_id_card_on_the_virtual_reader_opens_an_idcard_session(flow, id_reader) -> None:
    kiosk, tasks, edge = flow
    device, bridge = id_reader
    while not kiosk.view.offers("idcard"):
        event = bridge.events.get(timeout=10)
        kiosk.handle(event)
        assert not (isinstance(event, HealthChanged) and event.health.code == "reader-missing")
    citizen = Population(42, 5000).citizen(3)
    device.place(card_for_citizen(citizen, TODAY))
    bridge.pump_until(kiosk, ScreenName.IDENTIFYING)
    tasks.run_all()
    ((credential, _key),) = edge.open_calls
    assert credential.method == "idcard"
    assert set(credential.fields) == {"citizen_id", "name", "valid_until"}
    assert credential.fields["citizen_id"] == citizen.citizen_id
    assert kiosk.view.screen is ScreenName.HOME
