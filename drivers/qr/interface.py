"""The QR scanner's typed interface: it publishes what it scanned as opaque text.

An electronic social security card QR (电子社保卡) has no public payload format: it is a
short-lived token that only the national platform can resolve, so the driver neither parses
nor logs it. It hands the text on; the edge server asks the central platform whose it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

# Health codes: "ok", "scanner-missing" (port or camera absent), "scanner-error".


@dataclass(frozen=True, repr=False)
class CodeScanned(DeviceEvent):
    """One decoded code. `text` is a credential-like token: show its length, never the text."""

    scanner: str
    text: str
    symbology: str = "QR"  # as the decoder names it: "QR", "EAN13", ...

    def __repr__(self) -> str:
        return f"CodeScanned(scanner={self.scanner!r}, {self.symbology}, {len(self.text)} chars)"


@runtime_checkable
class QrScanner(Device, Protocol):
    """Publishes CodeScanned for every code read, and HealthChanged. No request/response:
    scanners are always on while started. A code held in front of the scanner is published
    once, not on every re-read (drivers debounce equal text for a couple of seconds)."""

    kind: str  # "qr_scanner"
