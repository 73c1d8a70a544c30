"""The registry of peripheral kinds: every (kind, impl) builds a device, nothing raises, every
set-up failure is a clear `driver-unavailable` or `not-configured`; the card through real pcscd."""

from __future__ import annotations

import queue
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.absent import AbsenceCode, AbsentQrScanner
from drivers.base import DeviceEvent, EventHub, Health, HealthChanged, HealthState
from drivers.card.interface import CardInserted, CardRead
from drivers.card.pcsc import PcscCardReader
from drivers.qr.interface import QrScanner
from drivers.registry import (
    IMPLEMENTATIONS,
    KINDS,
    REGISTRY,
    VIRTUAL_READER,
    Impl,
    PeripheralKind,
    Registry,
)
from simulators.card.applet import SscCard
from simulators.central.population import Population
from simulators.stack.services import Pcscd
from tests.simulators.card.vcard import CardSlot

ROOT = Path(__file__).resolve().parents[2]


class ScannerForTests:
    """A stand-in "driver" the tests register with one line, as a later issue will."""

    kind = "qr_scanner"

    def __init__(self, port: str = "/dev/ttyACM0") -> None:
        self.port = port
        self._hub = EventHub()

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def health(self) -> Health:
        return Health(HealthState.OK)

    def subscribe(self, observer):  # type: ignore[no-untyped-def]
        return self._hub.subscribe(observer)


def broken_factory(**options: object) -> ScannerForTests:
    raise RuntimeError("serial port settings make no sense")


def not_a_scanner(**options: object) -> object:
    return object()


@pytest.mark.parametrize("kind", list(PeripheralKind))
@pytest.mark.parametrize("impl", list(Impl))
def test_every_kind_and_impl_builds_a_device_of_its_kind(kind: PeripheralKind,
                                                         impl: Impl) -> None:
    spec = KINDS[kind]
    device = REGISTRY.build(kind, impl)
    assert isinstance(device, spec.protocol) and device.kind == spec.device_kind
    health = device.health()
    if impl is Impl.ABSENT:
        assert (health.state, health.code) == ("missing", "not-configured")
    elif (kind, impl) not in IMPLEMENTATIONS:
        assert (health.state, health.code) == ("missing", "driver-unavailable")
        assert f"no {impl} {spec.title} driver in this release" == health.reason


def test_the_kinds_have_distinct_device_kinds_and_the_card_keeps_its_name() -> None:
    assert set(KINDS) == set(PeripheralKind)
    names = [spec.device_kind for spec in KINDS.values()]
    assert len(set(names)) == len(names)
    assert KINDS[PeripheralKind.CARD].device_kind == "card_reader"  # the fleet keys on it


def test_card_real_and_simulated_are_the_pcsc_driver() -> None:
    real = REGISTRY.build("card", "real", reader_name="ACS ACR39U")
    simulated = REGISTRY.build(PeripheralKind.CARD, Impl.SIMULATED)
    assert isinstance(real, PcscCardReader) and real.reader_name == "ACS ACR39U"
    assert isinstance(simulated, PcscCardReader) and simulated.reader_name == VIRTUAL_READER
    assert REGISTRY.available(PeripheralKind.CARD) == (Impl.REAL, Impl.SIMULATED, Impl.ABSENT)
    assert REGISTRY.available(PeripheralKind.PINPAD) == (Impl.ABSENT,)  # the on-screen keypad


def test_adding_a_driver_is_one_line() -> None:
    registry = Registry({**IMPLEMENTATIONS, (PeripheralKind.QR, Impl.SIMULATED):
                         "tests.drivers.test_registry:ScannerForTests"})
    device = registry.build(PeripheralKind.QR, Impl.SIMULATED, port="/dev/pts/7")
    assert isinstance(device, ScannerForTests) and device.port == "/dev/pts/7"
    assert isinstance(device, QrScanner)
    assert Impl.SIMULATED in registry.available(PeripheralKind.QR)


@pytest.mark.parametrize(("target", "says"), [
    ("drivers.qr.no_such_driver:Scanner", "failed to load: No module named"),
    ("tests.drivers.test_registry:NoSuchFactory", "failed to load"),
    ("tests.drivers.test_registry:broken_factory", "failed to set up: serial port settings"),
    ("tests.drivers.test_registry:not_a_scanner", "does not keep the QR scanner interface"),
    ("drivers.card.pcsc:PcscCardReader", "does not keep the QR scanner interface"),  # wrong kind
])
def test_every_set_up_failure_is_driver_unavailable(target: str, says: str) -> None:
    registry = Registry({(PeripheralKind.QR, Impl.REAL): target})
    device = registry.build(PeripheralKind.QR, Impl.REAL)
    assert isinstance(device, AbsentQrScanner) and device.code is AbsenceCode.DRIVER_UNAVAILABLE
    assert says in device.health().reason and device.health().state == "missing"


def test_options_a_driver_does_not_take_are_a_set_up_failure() -> None:
    device = REGISTRY.build(PeripheralKind.CARD, Impl.REAL, baud_rate=9600)
    assert device.health().code == "driver-unavailable"
    assert "failed to set up" in device.health().reason


def test_names_that_are_no_kind_or_impl_are_refused() -> None:
    with pytest.raises(ValueError):
        REGISTRY.build("scanner", "real")
    with pytest.raises(ValueError):
        REGISTRY.build("qr", "fake")


def test_drivers_are_imported_only_when_built() -> None:
    code = ("import sys, drivers.registry as r;"
            "assert 'smartcard' not in sys.modules and 'drivers.card.pcsc' not in sys.modules;"
            "r.REGISTRY.build('card', 'absent');"
            "assert 'smartcard' not in sys.modules;"
            "r.REGISTRY.build('card', 'real');"
            "assert 'drivers.card.pcsc' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_the_simulated_card_reader_reads_the_virtual_card_through_real_pcscd(
    pcscd: Pcscd,
) -> None:
    citizen = Population(42, 50).citizen(3)
    events: queue.Queue[DeviceEvent] = queue.Queue()
    reader = REGISTRY.build(PeripheralKind.CARD, Impl.SIMULATED, poll_timeout_s=0.2)
    reader.subscribe(events.put)
    reader.start()
    try:
        first = _next(events, HealthChanged)
        assert first.health.code == "ok", first.health
        with CardSlot(pcscd.vpcd_port, slot=0) as slot:
            slot.insert(SscCard.from_citizen(citizen))
            assert _next(events, CardInserted).reader.startswith(VIRTUAL_READER)
            assert _next(events, CardRead).data.citizen_id == citizen.citizen_id
    finally:
        reader.stop()


def _next(events: queue.Queue[DeviceEvent], kind: type) -> DeviceEvent:
    while True:
        event = events.get(timeout=10)
        if isinstance(event, kind):
            return event
