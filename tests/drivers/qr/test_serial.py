"""SerialQrScanner through a real pty (simulators/qr/pty.py): framing, faults, reconnect."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from drivers.base import DeviceEvent, HealthChanged, HealthState
from drivers.qr.interface import MAX_PAYLOAD_BYTES, CodeScanned, QrScanner, ScanRejected
from drivers.qr.serial import LineFramer, SerialQrScanner
from simulators.qr.pty import PtyScanner

TOKEN = "AgAAAAEAAAAAaXBhc3N3b3JkMTIzNDU2Nzg5MGFiY2RlZg"


class Events:
    def __init__(self) -> None:
        self.queue: queue.Queue[DeviceEvent] = queue.Queue()

    def __call__(self, event: DeviceEvent) -> None:
        self.queue.put(event)

    def next(self, kind: type, timeout: float = 5.0, **where: object) -> DeviceEvent:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, kind) and all(
                    _get(event, k) == v for k, v in where.items()):
                return event
        raise AssertionError(f"no {kind.__name__} {where} within {timeout}s")

    def health(self, state: HealthState, timeout: float = 5.0) -> HealthChanged:
        return self.next(HealthChanged, timeout, state=state)  # type: ignore[return-value]


def _get(event: DeviceEvent, key: str) -> object:
    if key == "state":
        return event.health.state  # type: ignore[attr-defined]
    return getattr(event, key)


@pytest.fixture
def pty(tmp_path) -> Iterator[PtyScanner]:
    with PtyScanner(tmp_path / "ttyQR0", seed=1) as scanner:
        yield scanner


def started(pty: PtyScanner, **options) -> tuple[SerialQrScanner, Events]:
    scanner = SerialQrScanner(pty.path, debounce_s=options.pop("debounce_s", 0.0), **options)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    events.health(HealthState.OK)
    return scanner, events


def test_keeps_the_interface(pty):
    assert isinstance(SerialQrScanner(pty.path), QrScanner)


def test_a_scan_is_published_with_its_bytes(pty):
    scanner, events = started(pty)
    try:
        pty.scan(TOKEN)
        event = events.next(CodeScanned)
        assert event.payload == TOKEN.encode() and event.scanner == "ttyQR0"
        assert scanner.stats()["scanned"] == 1
    finally:
        scanner.stop()


@pytest.mark.parametrize("terminator", ["CR", "LF", "CRLF"])
def test_each_terminator_with_prefix_and_suffix(pty, terminator):
    scanner, events = started(pty, terminator=terminator, prefix="\x02", suffix="\x03")
    try:
        pty.scan(TOKEN, terminator=terminator, prefix=b"\x02", suffix=b"\x03")
        assert events.next(CodeScanned).payload == TOKEN.encode()
    finally:
        scanner.stop()


def test_split_frames_are_joined(pty):
    scanner, events = started(pty, terminator="CRLF")
    try:
        pty.scan(TOKEN, terminator="CRLF", split=len(TOKEN) + 2, gap_s=0.002)
        assert events.next(CodeScanned).payload == TOKEN.encode()
    finally:
        scanner.stop()


def test_noise_and_partial_frames_are_rejected_alone(pty):
    scanner, events = started(pty, prefix="]Q1", frame_timeout_s=0.3)
    try:
        pty.scan(TOKEN, noise_before=30, prefix=b"]Q1")  # noise glued before the frame
        rejected = events.next(ScanRejected)
        assert rejected.rejection == "garbled"
        pty.write_raw(b"]Q1" + TOKEN[:10].encode())  # the rest of the frame never comes
        assert events.next(ScanRejected, rejection="garbled").size == 13
        pty.scan(TOKEN[5:])  # a tail without the prefix: the start was lost
        assert events.next(ScanRejected).rejection == "garbled"
        pty.scan(TOKEN, prefix=b"]Q1")
        assert events.next(CodeScanned).payload == TOKEN.encode(), "the next frame is read"
        assert scanner.stats()["garbled"] == 3
    finally:
        scanner.stop()


def test_too_long_and_empty_lines(pty):
    scanner, events = started(pty, max_line_bytes=64)
    try:
        pty.write_raw(b"A" * 5000 + b"\r")
        assert events.next(ScanRejected).rejection == "too-large"
        pty.write_raw(b"\r")
        assert events.next(ScanRejected).rejection == "empty"
        pty.scan(TOKEN)
        assert events.next(CodeScanned).payload == TOKEN.encode()
    finally:
        scanner.stop()


def test_equal_payloads_are_debounced(pty):
    scanner, events = started(pty, debounce_s=30.0)
    try:
        pty.scan(TOKEN)
        pty.scan(TOKEN)
        pty.scan("another-code")
        assert events.next(CodeScanned).payload == TOKEN.encode()
        assert events.next(CodeScanned).payload == b"another-code"
        assert scanner.stats()["debounced"] == 1
    finally:
        scanner.stop()


def test_unplug_and_replug_reconnect(pty):
    scanner, events = started(pty)
    try:
        pty.unplug()
        events.health(HealthState.MISSING)
        assert scanner.health().code == "scanner-missing"
        pty.replug()
        events.health(HealthState.OK)
        pty.scan(TOKEN)
        assert events.next(CodeScanned).payload == TOKEN.encode()
        assert scanner.stats()["reconnects"] == 1
    finally:
        scanner.stop()


def test_missing_port_is_reported_and_found_later(tmp_path):
    link = tmp_path / "later"
    scanner = SerialQrScanner(str(link), debounce_s=0)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        events.health(HealthState.MISSING)
        with PtyScanner(link) as pty:
            events.health(HealthState.OK)
            pty.scan(TOKEN)
            assert events.next(CodeScanned).payload == TOKEN.encode()
    finally:
        scanner.stop()


def test_nothing_is_published_after_stop_and_restart_works(pty):
    scanner, events = started(pty)
    scanner.stop()
    pty.scan(TOKEN)
    with pytest.raises(AssertionError):
        events.next(CodeScanned, timeout=0.3)
    scanner.start()
    try:
        events.health(HealthState.OK)
        pty.scan(TOKEN)
        assert events.next(CodeScanned).payload == TOKEN.encode()
    finally:
        scanner.stop()


@pytest.mark.parametrize("options", [
    {"terminator": "ETX"}, {"baudrate": 12345}, {"max_line_bytes": MAX_PAYLOAD_BYTES + 1},
    {"prefix": "\r"}, {"read_timeout_s": 2.0},
])
def test_bad_options_fail_at_set_up(options):
    with pytest.raises(ValueError):
        SerialQrScanner("/dev/ttyACM0", **options)


# -- the framer alone ----------------------------------------------------------------------------
def test_framer_bounds_memory_on_an_endless_line():
    framer = LineFramer(terminator="CRLF", max_line_bytes=100)
    for _ in range(1000):
        assert framer.feed(b"x" * 1000, now=0.0) == []
    assert len(framer._buffer) <= 101
    (line,) = framer.feed(b"\r\n", now=0.0)
    assert line.rejection == "too-large" and line.size == 1_000_000


def test_framer_keeps_a_crlf_split_between_reads():
    framer = LineFramer(terminator="CRLF")
    assert framer.feed(b"abc\r", now=0.0) == []
    (line,) = framer.feed(b"\n", now=0.0)
    assert line.payload == b"abc"
