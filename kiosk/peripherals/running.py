"""The set of peripherals one kiosk runs: start, events, bounded stop, health of every kind."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from common.clock import Deadline
from drivers.absent import AbsenceCode
from drivers.base import Device, EventHub, Health, HealthChanged, Observer, Unsubscribe
from drivers.card.interface import CardReader
from drivers.registry import KINDS, Impl, PeripheralKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peripheral:
    kind: PeripheralKind
    impl: Impl
    device: Device

    @property
    def name(self) -> str:
        """The device kind: the key in the status document and the fleet's health."""
        return KINDS[self.kind].device_kind


class Peripherals:
    """One device per kind of the registry; kinds not given are absent (not configured).

    Observers subscribed here see every device's events, on the device's thread (hand them to
    the UI thread, as kiosk.ui.bridge does). `stop()` returns within `stop_timeout_s` however
    the drivers behave: a driver whose stop() hangs is abandoned (its threads are daemons) and
    named in the log, so a wedged reader cannot keep the kiosk from exiting or restarting.
    """

    def __init__(self, peripherals: Iterable[Peripheral], *, stop_timeout_s: float = 2.0) -> None:
        given = {p.kind: p for p in peripherals}
        self._items: dict[PeripheralKind, Peripheral] = {
            kind: given.get(kind) or _absent(kind, AbsenceCode.NOT_CONFIGURED,
                                              f"this terminal is configured without a "
                                              f"{KINDS[kind].title}")
            for kind in PeripheralKind
        }
        self.stop_timeout_s = stop_timeout_s
        self._hub = EventHub()
        self._unsubscribe: dict[PeripheralKind, Unsubscribe] = {
            kind: item.device.subscribe(self._hub.publish) for kind, item in self._items.items()
        }
        self._lock = threading.Lock()
        self._stopped = False

    # Access -----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Peripheral]:
        return iter(list(self._items.values()))

    def __getitem__(self, kind: PeripheralKind) -> Peripheral:
        return self._items[kind]

    @property
    def card(self) -> CardReader:
        # The registry only hands out devices that keep their kind's Protocol.
        return cast(CardReader, self._items[PeripheralKind.CARD].device)

    def health(self) -> list[tuple[Peripheral, Health]]:
        """Every kind's current health, in the registry's order. Cheap: no I/O."""
        return [(item, item.device.health()) for item in self]

    # Lifecycle --------------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def start(self) -> None:
        """Start every device. A driver that raises (the contract says it must not) is replaced
        by an absent one with `driver-unavailable`, so that one broken driver leaves the
        others, and the kiosk, running."""
        for item in self:
            try:
                item.device.start()
            except Exception as exc:
                log.exception("%s (%s) failed to start", item.name, item.impl)
                self._replace(item, f"{item.impl} driver failed to start: {exc}")

    def stop(self) -> bool:
        """Stop every device at once, all within `stop_timeout_s`. True if all returned.
        Idempotent."""
        with self._lock:
            if self._stopped:
                return True
            self._stopped = True
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        deadline = Deadline(self.stop_timeout_s)
        stoppers = [
            (item, threading.Thread(target=_stop_quietly, args=(item,), daemon=True,
                                    name=f"stop-{item.name}"))
            for item in self
        ]
        for _, thread in stoppers:
            thread.start()
        late = []
        for item, thread in stoppers:
            thread.join(deadline.remaining())
            if thread.is_alive():
                late.append(item.name)
        if late:
            log.error("did not stop within %.1f s, abandoned: %s", self.stop_timeout_s,
                      ", ".join(late))
        return not late

    def _replace(self, item: Peripheral, reason: str) -> None:
        self._unsubscribe.pop(item.kind, lambda: None)()
        # Release what it may hold, within the same bound as stop().
        stopper = threading.Thread(target=_stop_quietly, args=(item,), daemon=True,
                                   name=f"stop-{item.name}")
        stopper.start()
        stopper.join(self.stop_timeout_s)
        absent = _absent(item.kind, AbsenceCode.DRIVER_UNAVAILABLE, reason, impl=item.impl)
        self._items[item.kind] = absent
        self._unsubscribe[item.kind] = absent.device.subscribe(self._hub.publish)
        self._hub.publish(HealthChanged(kind=absent.name, health=absent.device.health()))


def as_peripherals(source: Peripherals | CardReader) -> Peripherals:
    """A bare card reader (window tests, the screen gallery) as a set with everything else
    absent."""
    if isinstance(source, Peripherals):
        return source
    return Peripherals([Peripheral(PeripheralKind.CARD, Impl.REAL, source)])


def _absent(kind: PeripheralKind, code: AbsenceCode, reason: str,
            impl: Impl = Impl.ABSENT) -> Peripheral:
    spec = KINDS[kind]
    return Peripheral(kind, impl, spec.absent(spec.device_kind, code, reason))


def _stop_quietly(item: Peripheral) -> None:
    try:
        item.device.stop()
    except Exception:
        log.exception("%s (%s) failed to stop", item.name, item.impl)

