"""The QR scanner's interface: bounded opaque payloads that never show themselves."""

from __future__ import annotations

import pytest

from drivers.base import Device
from drivers.qr.interface import (
    MAX_PAYLOAD_BYTES,
    CodeScanned,
    QrHealthCode,
    QrScanner,
    ScanRejected,
    ScanRejection,
)


def test_a_scanned_code_never_shows_its_payload() -> None:
    event = CodeScanned(scanner="ttyACM0", payload=b"ESSC-TOKEN-0123456789")
    assert "ESSC" not in repr(event) and "0123" not in repr(event)
    assert "21 B" in repr(event)


@pytest.mark.parametrize("payload", [b"", b"x" * (MAX_PAYLOAD_BYTES + 1)])
def test_a_payload_is_bounded(payload: bytes) -> None:
    with pytest.raises(ValueError):
        CodeScanned(scanner="ttyACM0", payload=payload)
    assert len(CodeScanned(scanner="s", payload=b"x" * MAX_PAYLOAD_BYTES).payload) == 1024


def test_a_refused_scan_carries_its_size_only() -> None:
    event = ScanRejected(scanner="s", rejection=ScanRejection.TOO_LARGE, size=5000)
    assert event.rejection == "too-large" and event.size == 5000


class _Minimal:
    kind = "x"

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def health(self) -> None: ...
    def subscribe(self, observer: object) -> None: ...


def test_a_scanner_is_any_device_that_publishes() -> None:
    assert QrHealthCode.SCANNER_MISSING == "scanner-missing"
    assert isinstance(_Minimal(), QrScanner) and isinstance(_Minimal(), Device)
