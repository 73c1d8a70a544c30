"""A terminal reader with several slots (contact, contactless, ...) plus a SAM slot.

Vendor kiosk readers show up in PC/SC as one reader per slot ("... Contact 00 00", "...
Contactless 00 01", "... SAM 00 02"). Each configured card slot is watched by a PcscCardReader
of its own, which never takes the SAM reader; their card events are merged and carry the slot
they came from. The PSAM in the SAM slot serves generation 3 cards in every slot.

Health is one for the whole: ok when every slot is, degraded while some slot has a problem
and another still works, missing when none works. PIN operations go to the slot of the card
last read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from drivers.base import (
    DeviceEvent,
    EventHub,
    Health,
    HealthChanged,
    HealthState,
    HealthTracker,
    Observer,
    Unsubscribe,
)
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardHealthCode,
    CardRead,
    CardReadFailed,
    CardRemoved,
    Pin,
    PinOutcome,
    PinResult,
    ReloadAuthoriser,
    StaffCredential,
)
from drivers.card.pcsc import BUSY_TIMEOUT_S, PIN_TIMEOUT_S, READ_TIMEOUT_S, PcscCardReader

log = logging.getLogger(__name__)


class MultiSlotCardReader:
    """CardReader over `slots` (slot name -> substring of its PC/SC reader name)."""

    kind = "card_reader"

    def __init__(
        self,
        slots: Mapping[str, str],
        sam_reader: str | None = None,
        poll_timeout_s: float = 0.5,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        pin_timeout_s: float = PIN_TIMEOUT_S,
    ) -> None:
        if not slots:
            raise ValueError("at least one card slot")
        for name, pattern in slots.items():
            if sam_reader is not None and (pattern in sam_reader or sam_reader in pattern):
                raise ValueError(f"slot {name!r} would take the SAM reader")
        self.sam_reader = sam_reader
        self._hub = EventHub()
        self._lock = threading.RLock()
        self._stopped = True
        self._active: PcscCardReader | None = None  # the slot of the card last read
        self._health = HealthTracker(
            self.kind, self._publish,
            Health(HealthState.MISSING, CardHealthCode.READER_MISSING, "Not started"), log,
        )
        self._children: dict[str, PcscCardReader] = {}
        self._child_health: dict[str, Health] = {}
        for name, pattern in slots.items():
            child = PcscCardReader(
                pattern, poll_timeout_s, read_timeout_s=read_timeout_s,
                busy_timeout_s=busy_timeout_s, slot=name, sam_reader=sam_reader,
                pin_timeout_s=pin_timeout_s,
            )
            child.subscribe(lambda event, child=child: self._on_child(child, event))
            self._children[name] = child

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(self._children)

    # -- Device contract --------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._stopped = False
            self._child_health = {}
            self._health.restart()
        for child in self._children.values():
            child.start()

    def stop(self) -> None:
        """Stops every slot; the slots stop in parallel so that the whole stays under 1 s."""
        with self._lock:
            self._stopped = True
            self._active = None
        threads = [
            threading.Thread(target=child.stop, name=f"card-stop-{name}", daemon=True)
            for name, child in self._children.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(1.0)

    def health(self) -> Health:
        return self._health.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def read(self) -> CardData:
        child = self._active or next(iter(self._children.values()))
        return child.read()

    # -- PIN --------------------------------------------------------------------------------------
    def _target(self) -> PcscCardReader | None:
        with self._lock:
            return self._active

    def pin_tries_left(self) -> PinResult:
        child = self._target()
        return child.pin_tries_left() if child else _NO_CARD

    def verify_pin(self, pin: Pin) -> PinResult:
        child = self._target()
        return child.verify_pin(pin) if child else _NO_CARD

    def change_pin(self, old: Pin, new: Pin) -> PinResult:
        child = self._target()
        return child.change_pin(old, new) if child else _NO_CARD

    def reload_pin(
        self, new: Pin, staff: StaffCredential, authorise: ReloadAuthoriser
    ) -> PinResult:
        child = self._target()
        return child.reload_pin(new, staff, authorise) if child else _NO_CARD

    def unblock_pin(self, staff: StaffCredential, authorise: ReloadAuthoriser) -> PinResult:
        child = self._target()
        return child.unblock_pin(staff, authorise) if child else _NO_CARD

    # -- merging ----------------------------------------------------------------------------------
    def _on_child(self, child: PcscCardReader, event: DeviceEvent) -> None:
        if isinstance(event, HealthChanged):
            with self._lock:
                self._child_health[child.slot] = event.health
                self._health.set(*self._combined())
            return
        with self._lock:
            if isinstance(event, CardRead) or (
                isinstance(event, CardReadFailed) and event.failure is CardFailure.NEEDS_PSAM
            ):
                self._active = child
            elif isinstance(event, CardRemoved) and self._active is child:
                self._active = None
        self._publish(event)

    def _combined(self) -> tuple[HealthState, str, str]:
        healths = [self._child_health.get(name) for name in self._children]
        known = [(name, h) for name, h in zip(self._children, healths, strict=True) if h]
        bad = [(name, h) for name, h in known if h.state is not HealthState.OK]
        if not bad:
            return HealthState.OK, CardHealthCode.OK, ""
        name, first = bad[0]
        reason = f"slot {name}: {first.reason}" if first.reason else f"slot {name}"
        working = any(h.state is not HealthState.MISSING for _, h in known)
        if len(known) < len(self._children) or working:
            return HealthState.DEGRADED, first.code, reason
        return HealthState.MISSING, first.code, reason

    def _publish(self, event: DeviceEvent) -> None:
        with self._lock:
            if self._stopped:
                return
            self._hub.publish(event)


_NO_CARD = PinResult(PinOutcome.REMOVED, None, "no card has been read in any slot")
