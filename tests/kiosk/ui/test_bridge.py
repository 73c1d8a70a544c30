"""The hardware bridge: driver events from the driver's thread, handled on 'the UI thread'."""

from __future__ import annotations

import threading

from drivers.base import DeviceEvent
from drivers.card.fake import FakeCardReader
from drivers.card.interface import CardInserted, CardRead, CardRemoved
from kiosk.ui.bridge import HardwareBridge
from tests.kiosk.fakes import sample_card
from tests.kiosk.test_workers import UiThread


def test_the_bridge_moves_driver_events_in_order() -> None:
    ui = UiThread()
    received: list[tuple[type[DeviceEvent], bool]] = []
    main = threading.get_ident()
    reader = FakeCardReader()
    reader.subscribe(HardwareBridge(ui.post, lambda e: received.append(
        (type(e), threading.get_ident() == main))))

    def driver_thread() -> None:  # the driver publishes on its own thread
        reader.insert(sample_card())
        reader.remove()

    thread = threading.Thread(target=driver_thread)
    thread.start()
    thread.join(10)
    assert received == []  # nothing ran on the driver's thread
    for _ in range(3):
        ui.run_one()
    assert received == [(CardInserted, True), (CardRead, True), (CardRemoved, True)]
