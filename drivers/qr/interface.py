"""The QR scanner's typed interface: it publishes what it scanned as opaque, bounded bytes.

An electronic social security card QR (电子社保卡) has no public payload format: it is a
short-lived token that only the national platform can resolve, so the driver neither parses
nor logs it. It hands the bytes on; the edge server asks the central platform whose it is.
Serial scanners and camera decoders (zxing-cpp) both yield bytes, so bytes are the payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

KIND = "qr_scanner"  # Device.kind: the key in the kiosk's status document

# An e-SSC token is a few hundred bytes at most. Anything longer is not one: the driver drops
# it (ScanRejected) rather than handing megabytes from a hostile code or a chattering serial
# line to the kiosk and the edge.
MAX_PAYLOAD_BYTES = 1024


class QrHealthCode(StrEnum):
    OK = "ok"
    SCANNER_MISSING = "scanner-missing"  # missing: port or camera absent; the driver retries
    SCANNER_ERROR = "scanner-error"  # missing: present but failing (framing, decoder crash)


class ScanRejection(StrEnum):
    TOO_LARGE = "too-large"  # longer than MAX_PAYLOAD_BYTES
    EMPTY = "empty"
    GARBLED = "garbled"  # serial framing broken (no terminator, parity errors)


@dataclass(frozen=True, repr=False)
class CodeScanned(DeviceEvent):
    """One decoded code. `payload` is a credential-like token: show its size, never the bytes."""

    scanner: str
    payload: bytes
    symbology: str = "QR"  # as the decoder names it: "QR", "EAN13", ...

    def __post_init__(self) -> None:
        if not self.payload:
            raise ValueError("a scanned code has a payload")
        if len(self.payload) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"a scanned code holds at most {MAX_PAYLOAD_BYTES} bytes")

    def __repr__(self) -> str:
        return f"CodeScanned(scanner={self.scanner!r}, {self.symbology}, {len(self.payload)} B)"


@dataclass(frozen=True)
class ScanRejected(DeviceEvent):
    """A read the driver refused; it carries the size and why, never the bytes."""

    scanner: str
    rejection: ScanRejection
    size: int


@runtime_checkable
class QrScanner(Device, Protocol):
    """Publishes CodeScanned for every code read, ScanRejected for refused reads, and
    HealthChanged. No request/response: scanners are always on while started. A code held in
    front of the scanner is published once, not on every re-read (drivers debounce equal
    payloads for a couple of seconds)."""

    kind: str  # KIND
