"""The PIN pad's typed interface: entry sessions in, entry events out, the PIN never shown.

A PIN pad is either an encrypting PIN pad (EPP: the PIN leaves it as an encrypted block under a
key loaded at provisioning) or a plain keypad on a serial line (the PIN leaves it as digits).
Either way the kiosk handles an opaque `PinBlock` that it passes to whatever verifies it (the
card's VERIFY, or the edge), and the events that drive the screen carry only a digit count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

KIND = "pinpad"  # Device.kind: the key in the kiosk's status document

MIN_DIGITS = 4
MAX_DIGITS = 12  # ISO 9564 PIN length limit
MAX_ENTRY_S = 120.0  # an entry that nobody finishes ends; the pad stops listening
MAX_BLOCK_BYTES = 64  # an encrypted ISO 9564 block is 8 or 16 bytes; plain digits fewer


class PinPadHealthCode(StrEnum):
    OK = "ok"
    PINPAD_MISSING = "pinpad-missing"  # missing: not connected; the driver retries
    PINPAD_ERROR = "pinpad-error"  # missing: present but failing
    KEYS_MISSING = "keys-missing"  # missing: an EPP without its working key (provisioning)
    TAMPERED = "tampered"  # missing, permanent: the tamper switch erased the keys


class EntryEnd(StrEnum):
    """Why an entry ended without a PIN."""

    CANCELLED = "cancelled"  # the citizen pressed cancel, or the kiosk called cancel_entry()
    TIMED_OUT = "timed-out"
    PAD_LOST = "pad-lost"  # disconnected mid-entry


@dataclass(frozen=True, repr=False, eq=False)
class PinBlock:
    """What the pad hands over. Never printed: repr and str say only how long it is.

    Compared by identity: equality on a secret invites timing-unsafe comparisons.
    """

    value: bytes
    encrypted: bool  # True from an EPP (ISO 9564 block), False from a plain keypad

    def __post_init__(self) -> None:
        if not 0 < len(self.value) <= MAX_BLOCK_BYTES:
            raise ValueError(f"a PIN block holds 1 to {MAX_BLOCK_BYTES} bytes")

    def __repr__(self) -> str:
        return f"PinBlock(<{len(self.value)} bytes{', encrypted' if self.encrypted else ''}>)"

    __str__ = __repr__


@dataclass(frozen=True)
class EntryStarted(DeviceEvent):
    entry_id: str
    max_digits: int


@dataclass(frozen=True)
class DigitsChanged(DeviceEvent):
    """A key was pressed (digit, backspace or clear): how many digits are in, never which."""

    entry_id: str
    digits: int


@dataclass(frozen=True, repr=False)
class EntryCompleted(DeviceEvent):
    entry_id: str
    pin: PinBlock

    def __repr__(self) -> str:
        return f"EntryCompleted(entry_id={self.entry_id!r}, {self.pin!r})"


@dataclass(frozen=True)
class EntryEnded(DeviceEvent):
    entry_id: str
    end: EntryEnd


@runtime_checkable
class PinPad(Device, Protocol):
    """One entry at a time. Events per entry: EntryStarted, DigitsChanged..., then
    EntryCompleted or EntryEnded. The pad publishes on its own thread."""

    kind: str  # KIND

    def begin_entry(
        self, *, min_digits: int = 6, max_digits: int = 6, timeout_s: float = 30.0
    ) -> str:
        """Start listening for a PIN; returns the entry id at once. Raises PinPadUnavailable
        when the pad cannot take a PIN now (health is missing), or ValueError for lengths
        outside MIN_DIGITS..MAX_DIGITS or a timeout outside 0..MAX_ENTRY_S."""
        ...

    def cancel_entry(self) -> None:
        """End the current entry (EntryEnded CANCELLED); nothing happens if none is open."""
        ...


class PinPadUnavailable(Exception):
    def __init__(self, code: PinPadHealthCode, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
