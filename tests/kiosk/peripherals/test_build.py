"""Peripherals built from the kiosk's settings through the registry; the card through real
pcscd with the virtual card."""

from __future__ import annotations

import queue

import pytest

from drivers.base import DeviceEvent, HealthChanged
from drivers.card.interface import CardInserted, CardRead
from drivers.card.pcsc import PcscCardReader
from drivers.registry import VIRTUAL_READER, Impl, PeripheralKind
from kiosk.peripherals import build_peripherals
from kiosk.settings import KioskSettings
from simulators.card.applet import SscCard
from simulators.central.population import Population
from simulators.stack.services import Pcscd
from tests.simulators.card.vcard import CardSlot


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIOSK_CARD_DRIVER", "KIOSK_CARD_READER", "HRSS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for kind in PeripheralKind:
        monkeypatch.delenv(f"KIOSK_PERIPHERALS__{kind.upper()}", raising=False)


def test_the_settings_choose_each_kind() -> None:
    settings = KioskSettings(card_reader="ACS", peripherals={"qr": "real", "printer": "absent"},
                             peripheral_options={"qr": {"port": "/dev/ttyACM9"}},
                             peripheral_stop_timeout_s=1.5)
    set_ = build_peripherals(settings)
    assert isinstance(set_.card, PcscCardReader) and set_.card.reader_name == "ACS"
    chosen = {p.kind: (p.impl, h.code) for p, h in set_.health()}
    assert chosen[PeripheralKind.QR][0] is Impl.REAL
    assert set_[PeripheralKind.QR].device.port == "/dev/ttyACM9"  # type: ignore[attr-defined]
    assert chosen[PeripheralKind.PRINTER] == (Impl.ABSENT, "not-configured")
    assert chosen[PeripheralKind.PINPAD] == (Impl.ABSENT, "not-configured")
    assert set_.stop_timeout_s == 1.5


def test_a_kinds_options_reach_its_driver_over_the_older_settings() -> None:
    settings = KioskSettings(card_reader="ACS",
                             peripheral_options={"card": {"reader_name": "Virtual PCD"}})
    assert build_peripherals(settings).card.reader_name == "Virtual PCD"


def test_an_option_a_driver_refuses_leaves_the_kind_unavailable_with_the_reason() -> None:
    set_ = build_peripherals(KioskSettings(peripheral_options={"card": {"baud_rate": 9600}}))
    health = set_.card.health()
    assert health.code == "driver-unavailable" and "baud_rate" in health.reason


def test_the_deprecated_card_driver_none_is_an_absent_card() -> None:
    set_ = build_peripherals(KioskSettings(card_driver="none"))
    assert set_.card.health().code == "not-configured"


def test_a_simulated_card_is_read_through_real_pcscd(pcscd: Pcscd) -> None:
    set_ = build_peripherals(KioskSettings(peripherals={"card": "simulated"}))
    events: queue.Queue[DeviceEvent] = queue.Queue()
    set_.subscribe(events.put)
    set_.start()
    try:
        assert _next(events, HealthChanged).health.code == "ok"
        citizen = Population(42, 50).citizen(5)
        with CardSlot(pcscd.vpcd_port, slot=0) as slot:
            slot.insert(SscCard.from_citizen(citizen))
            assert _next(events, CardInserted).reader.startswith(VIRTUAL_READER)
            assert _next(events, CardRead).data.citizen_id == citizen.citizen_id
    finally:
        assert set_.stop()


def _next(events: queue.Queue[DeviceEvent], kind: type) -> DeviceEvent:
    while True:
        event = events.get(timeout=10)
        if isinstance(event, kind):
            return event
