"""The kiosk's set of peripherals: every kind present, one stream of events, a start that
survives a broken driver, and a stop that returns within its bound whatever a driver does."""

from __future__ import annotations

import threading

from drivers.absent import AbsenceCode, AbsentPrinter
from drivers.base import DeviceEvent, EventHub, Health, HealthChanged, HealthState
from drivers.card.fake import FakeCardReader
from drivers.card.interface import CardRemoved
from drivers.registry import Impl, PeripheralKind
from kiosk.peripherals import Peripheral, Peripherals, as_peripherals


class Scanner:
    """A QR scanner whose start or stop misbehaves on request."""

    kind = "qr_scanner"

    def __init__(self, *, start_raises: bool = False, stop_blocks: threading.Event | None = None
                 ) -> None:
        self.start_raises = start_raises
        self.stop_blocks = stop_blocks
        self.stopping = threading.Event()
        self.hub = EventHub()

    def start(self) -> None:
        if self.start_raises:
            raise RuntimeError("port vanished")

    def stop(self) -> None:
        self.stopping.set()
        if self.stop_blocks is not None:
            self.stop_blocks.wait()  # a read that never returns

    def health(self) -> Health:
        return Health(HealthState.OK)

    def subscribe(self, observer):  # type: ignore[no-untyped-def]
        return self.hub.subscribe(observer)


def test_kinds_not_given_are_absent_and_every_kind_is_there() -> None:
    card = FakeCardReader()
    set_ = Peripherals([Peripheral(PeripheralKind.CARD, Impl.SIMULATED, card)])
    assert [p.kind for p in set_] == list(PeripheralKind)
    assert set_.card is card and set_[PeripheralKind.CARD].impl is Impl.SIMULATED
    names = {p.name: (h.state, h.code) for p, h in set_.health()}
    assert names == {
        "card_reader": ("ok", "ok"), "qr_scanner": ("missing", "not-configured"),
        "camera": ("missing", "not-configured"), "face": ("missing", "not-configured"),
        "printer": ("missing", "not-configured"), "pinpad": ("missing", "not-configured"),
        "idcard_reader": ("missing", "not-configured"),
        "document_printer": ("missing", "not-configured"),
    }
    assert as_peripherals(card).card is card and as_peripherals(set_) is set_


def test_events_of_every_device_reach_one_observer_until_stop() -> None:
    card, scanner = FakeCardReader(), Scanner()
    set_ = Peripherals([Peripheral(PeripheralKind.CARD, Impl.REAL, card),
                        Peripheral(PeripheralKind.QR, Impl.REAL, scanner)])
    seen: list[DeviceEvent] = []
    set_.subscribe(seen.append)
    set_.start()
    card.remove()
    ok = Health(HealthState.DEGRADED, code="scanner-error")
    scanner.hub.publish(HealthChanged(kind="qr_scanner", health=ok))
    assert [type(e) for e in seen] == [CardRemoved, HealthChanged]
    assert set_.stop() and not card.started
    card.remove()  # a driver that still publishes after stop: nobody hears it
    assert len(seen) == 2


def test_a_driver_that_raises_on_start_is_replaced_and_the_others_run() -> None:
    card = FakeCardReader()
    set_ = Peripherals([Peripheral(PeripheralKind.QR, Impl.REAL, Scanner(start_raises=True)),
                        Peripheral(PeripheralKind.CARD, Impl.REAL, card)])
    seen: list[DeviceEvent] = []
    set_.subscribe(seen.append)
    set_.start()
    assert card.started
    qr = set_[PeripheralKind.QR]
    health = qr.device.health()
    assert (qr.impl, health.state, health.code) == (Impl.REAL, "missing", "driver-unavailable")
    assert "failed to start: port vanished" in health.reason
    assert seen == [HealthChanged(kind="qr_scanner", health=health, at=seen[0].at)]


def test_stop_returns_within_its_bound_when_a_driver_hangs() -> None:
    release = threading.Event()
    hanging, card = Scanner(stop_blocks=release), FakeCardReader()
    set_ = Peripherals([Peripheral(PeripheralKind.QR, Impl.REAL, hanging),
                        Peripheral(PeripheralKind.CARD, Impl.REAL, card)], stop_timeout_s=0.2)
    set_.start()
    try:
        # Had stop() waited for the hanging driver this would never return (the test's
        # timeout would fail it); it returns False and the other drivers were stopped.
        assert set_.stop() is False
        assert hanging.stopping.is_set() and not release.is_set() and not card.started
        assert set_.stop() is True  # idempotent
    finally:
        release.set()


def test_absent_devices_keep_the_kind_protocol_in_the_set() -> None:
    printer = Peripherals([])[PeripheralKind.PRINTER].device
    assert isinstance(printer, AbsentPrinter) and printer.code is AbsenceCode.NOT_CONFIGURED
