"""SerialQrScanner: a QR scanner that types what it read as a line on a serial port (pyserial).

    SerialQrScanner("/dev/ttyACM0")                              # CDC-ACM USB scanner, CR-ended
    SerialQrScanner("/dev/ttyUSB0", baudrate=115200, terminator="CRLF", prefix="\\x02",
                    suffix="\\x03")                               # STX ... ETX framing

Hall scanners (Honeywell, Newland, Zebra in "USB COM" mode) send each code as one line: an
optional prefix, the payload, an optional suffix and the terminator the installer chose. The
framing is the driver's (`LineFramer`), and every line is judged alone: a line that is too
long, empty, missing its configured prefix or suffix (the start or the end of a frame was
lost), has bytes outside printable ASCII (line noise, a wrong baud rate) or sits unterminated
for `frame_timeout_s` (a partial frame) is discarded with its reason logged and counted, and
the next line is read as if nothing happened.

Constructing does no I/O. start() opens the port on the scanner's thread; while the port is
missing (unplugged) or fails, health says so and the thread retries with backoff, so a scanner
that is unplugged and plugged in again is used again without anyone noticing. Reads wait at most
`read_timeout_s`, so stop() returns within a second.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from common.backoff import Backoff
from drivers.base import Health, HealthState, HealthTracker, Observer, Unsubscribe
from drivers.qr.interface import KIND, MAX_PAYLOAD_BYTES, QrHealthCode, ScanRejection
from drivers.qr.publishing import ScanEvents

log = logging.getLogger(__name__)

Terminator = Literal["CR", "LF", "CRLF"]
TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
# Where simulators/qr puts the link to its pty (`kioskctl sim qr serve`); HRSS_SIM_QR_LINK
# overrides it for both.
DEFAULT_SIM_PORT = os.path.join(tempfile.gettempdir(), "hrss-sim", "qr-scanner")
STOP_JOIN_S = 0.5
# Gaps between bytes of one burst: a read returns this long after the last byte arrived.
_INTER_BYTE_S = 0.01
_READ_CHUNK = 4096


def sim_port() -> str:
    return os.environ.get("HRSS_SIM_QR_LINK") or DEFAULT_SIM_PORT


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)


@dataclass(frozen=True)
class Line:
    """A framed line: `payload` when good, else `rejection` with its reason."""

    payload: bytes | None = None
    rejection: ScanRejection | None = None
    size: int = 0
    reason: str = ""


class LineFramer:
    """Bytes in, judged lines out; bounded memory whatever arrives. Not thread-safe."""

    def __init__(self, *, terminator: str = "CR", prefix: str | bytes = b"",
                 suffix: str | bytes = b"", max_line_bytes: int = MAX_PAYLOAD_BYTES,
                 frame_timeout_s: float = 0.5, printable_only: bool = True) -> None:
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator is one of {', '.join(TERMINATORS)}")
        if not 1 <= max_line_bytes <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"max_line_bytes is in [1, {MAX_PAYLOAD_BYTES}]")
        if frame_timeout_s <= 0:
            raise ValueError("frame_timeout_s is positive")
        self.terminator = TERMINATORS[terminator]
        self.prefix = _as_bytes(prefix)
        self.suffix = _as_bytes(suffix)
        for affix in (self.prefix, self.suffix):
            if len(affix) > 16 or any(b in self.terminator for b in affix):
                raise ValueError("prefix and suffix are at most 16 bytes, without the terminator")
        self.max_line_bytes = max_line_bytes
        self.frame_timeout_s = frame_timeout_s
        self.printable_only = printable_only
        # A line may carry its affixes on top of the payload.
        self._limit = max_line_bytes + len(self.prefix) + len(self.suffix)
        self._buffer = bytearray()
        self._dropped = 0  # bytes of an overlong line thrown away so far (0: not overflowing)
        self._last_byte_at = 0.0

    def feed(self, data: bytes, now: float) -> list[Line]:
        out = self.expire(now) if data else []
        if not data:
            return out
        self._last_byte_at = now
        self._buffer += data
        term = self.terminator
        while True:
            end = self._buffer.find(term)
            if end < 0:
                break
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(term)]
            if self._dropped:
                out.append(Line(rejection=ScanRejection.TOO_LARGE, size=self._dropped + len(raw),
                                reason=f"longer than {self.max_line_bytes} bytes"))
                self._dropped = 0
            else:
                out.append(self._judge(raw))
        if len(self._buffer) > self._limit:
            # Keep the last bytes that may be the start of a CRLF; drop the rest as it comes.
            keep = len(term) - 1
            cut = len(self._buffer) - keep
            self._dropped += cut
            del self._buffer[:cut]
        return out

    def expire(self, now: float) -> list[Line]:
        """A partial frame sitting unterminated for frame_timeout_s is discarded."""
        if not (self._buffer or self._dropped):
            return []
        if now - self._last_byte_at < self.frame_timeout_s:
            return []
        size = self._dropped + len(self._buffer)
        overlong = bool(self._dropped)
        self._buffer.clear()
        self._dropped = 0
        if overlong:
            return [Line(rejection=ScanRejection.TOO_LARGE, size=size,
                         reason=f"longer than {self.max_line_bytes} bytes, unterminated")]
        return [Line(rejection=ScanRejection.GARBLED, size=size,
                     reason=f"no terminator within {self.frame_timeout_s:g} s (partial frame)")]

    def reset(self) -> None:
        self._buffer.clear()
        self._dropped = 0

    def _judge(self, raw: bytes) -> Line:
        size = len(raw)
        line = raw
        if self.prefix:
            if not line.startswith(self.prefix):
                return Line(rejection=ScanRejection.GARBLED, size=size,
                            reason="no prefix (the start of the frame was lost)")
            line = line[len(self.prefix):]
        if self.suffix:
            if not line.endswith(self.suffix):
                return Line(rejection=ScanRejection.GARBLED, size=size,
                            reason="no suffix (the end of the frame was lost)")
            line = line[: -len(self.suffix)]
        if not line:
            return Line(rejection=ScanRejection.EMPTY, size=size, reason="an empty line")
        if len(line) > self.max_line_bytes:
            return Line(rejection=ScanRejection.TOO_LARGE, size=size,
                        reason=f"longer than {self.max_line_bytes} bytes")
        if self.printable_only and any(b < 0x20 or b > 0x7E for b in line):
            return Line(rejection=ScanRejection.GARBLED, size=size,
                        reason="bytes outside printable ASCII (noise, wrong baud rate or "
                               "terminator setting)")
        return Line(payload=line, size=size)


class SerialQrScanner:
    """A QrScanner (drivers/qr/interface.py) on a serial port."""

    kind = KIND

    def __init__(
        self,
        port: str = "/dev/ttyACM0",
        *,
        baudrate: int = 9600,
        terminator: Terminator | str = "CR",
        prefix: str | bytes = b"",
        suffix: str | bytes = b"",
        max_line_bytes: int = MAX_PAYLOAD_BYTES,
        frame_timeout_s: float = 0.5,
        printable_only: bool = True,
        debounce_s: float = 2.0,
        read_timeout_s: float = 0.1,
        exclusive: bool = False,
        backoff: Backoff | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not port:
            raise ValueError("a serial scanner needs a port")
        if baudrate not in _BAUDRATES:
            raise ValueError(f"baudrate is one of {', '.join(map(str, _BAUDRATES))}")
        if not 0 < read_timeout_s <= 0.5:
            raise ValueError("read_timeout_s is in (0, 0.5]: stop() must stay under a second")
        self.port = port
        self.name = name or os.path.basename(port)
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.exclusive = exclusive
        self._framing: dict[str, Any] = {
            "terminator": terminator, "prefix": prefix, "suffix": suffix,
            "max_line_bytes": max_line_bytes, "frame_timeout_s": frame_timeout_s,
            "printable_only": printable_only,
        }
        LineFramer(**self._framing)  # bad framing options fail here, at set-up
        self._backoff = backoff or Backoff(initial_s=0.2, max_s=5.0)
        self._clock = clock
        self._events = ScanEvents(self.name, debounce_s, clock)
        self._lifecycle = threading.Lock()
        self._stopped: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._serial: Any = None
        self._tracker = HealthTracker(
            KIND, self._events.publish,
            Health(HealthState.MISSING, QrHealthCode.SCANNER_MISSING, "not started"), log)

    # Device

    def start(self) -> None:
        with self._lifecycle:
            if self._stopped is not None:
                return
            stopped = threading.Event()
            self._stopped = stopped
            self._events.open()
            self._tracker.restart()
            self._thread = threading.Thread(target=self._loop, args=(stopped,),
                                            name=f"qr serial {self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lifecycle:
            stopped, thread = self._stopped, self._thread
            if stopped is None:
                return
            stopped.set()
            self._events.close()
            port = self._serial
            if port is not None:
                try:
                    port.cancel_read()  # wakes a read blocked in select()
                except Exception:
                    log.debug("cancel_read failed", exc_info=True)
            if thread is not None and thread is not threading.current_thread():
                thread.join(STOP_JOIN_S)
                if thread.is_alive():
                    log.warning("qr scanner %s: reader thread did not end; abandoned", self.name)
            self._stopped = None
            self._thread = None

    def health(self) -> Health:
        return self._tracker.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._events.subscribe(observer)

    def stats(self) -> dict[str, int]:
        """Counters since construction: scanned, debounced, too-large, empty, garbled,
        reconnects."""
        return self._events.stats()

    # The reader thread

    def _set(self, stopped: threading.Event, state: HealthState, code: str, reason: str) -> None:
        if not stopped.is_set():
            self._tracker.set(state, code, reason)

    def _loop(self, stopped: threading.Event) -> None:
        attempt = 0
        ever_open = False
        while not stopped.is_set():
            port = self._open(stopped)
            if port is not None:
                if ever_open:
                    self._events.count("reconnects")
                ever_open = True
                attempt = 0
                self._serial = port
                try:
                    self._read(stopped, port)
                finally:
                    self._serial = None
                    try:
                        port.close()
                    except Exception:
                        log.debug("close failed", exc_info=True)
            attempt += 1
            stopped.wait(self._backoff.delay(attempt))

    def _open(self, stopped: threading.Event) -> Any:
        import serial

        # Looked up first: the usual reason is an unplugged scanner, which deserves its own
        # health code (and no traceback).
        if not os.path.exists(self.port):
            self._set(stopped, HealthState.MISSING, QrHealthCode.SCANNER_MISSING,
                      f"no device {self.port}")
            return None
        try:
            # pyserial opens with O_NONBLOCK (an open never hangs on a modem line) and puts
            # the line in raw mode, so bytes arrive as the scanner sent them.
            return serial.Serial(self.port, self.baudrate, timeout=self.read_timeout_s,
                                 inter_byte_timeout=_INTER_BYTE_S, exclusive=self.exclusive)
        except (serial.SerialException, OSError, ValueError) as exc:
            gone = isinstance(exc, OSError | serial.SerialException) and getattr(
                exc, "errno", None) in (errno.ENOENT, errno.ENODEV, errno.ENXIO)
            code = QrHealthCode.SCANNER_MISSING if gone else QrHealthCode.SCANNER_ERROR
            self._set(stopped, HealthState.MISSING, code, f"cannot open {self.port}: {exc}")
            return None

    def _read(self, stopped: threading.Event, port: Any) -> None:
        import serial

        framer = LineFramer(**self._framing)  # a new connection starts a new frame
        self._set(stopped, HealthState.OK, QrHealthCode.OK, f"{self.port} open")
        while not stopped.is_set():
            try:
                data = port.read(_READ_CHUNK)
            except (serial.SerialException, OSError) as exc:
                # A USB scanner pulled out (or a pty whose other side closed): EIO, or
                # "readiness to read but returned no data". Reconnect.
                if not stopped.is_set():
                    self._set(stopped, HealthState.MISSING, QrHealthCode.SCANNER_MISSING,
                              f"{self.port} went away: {exc}")
                return
            if stopped.is_set():
                return
            now = self._clock()
            for line in framer.feed(data, now) if data else framer.expire(now):
                if line.payload is not None:
                    self._events.scanned(line.payload)
                elif line.rejection is not None:
                    self._events.rejected(line.rejection, line.size, line.reason)


_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def simulated_scanner(port: str | None = None, **options: Any) -> SerialQrScanner:
    """The production driver on the pty of `kioskctl sim qr serve` (drivers/registry.py)."""
    return SerialQrScanner(port or sim_port(), **options)
