"""A resident ID card reader on a serial port (pyserial), speaking the SAM frame protocol.

One thread owns the port. While started it polls find-card (20 01) every `poll_interval_s`;
when a card is there and has not been read in this presentation, it selects (20 02) and reads
the fixed information (30 01), validates the text block and publishes IdCardRead, or
IdCardReadFailed with the reason. A presentation ends after `removal_polls` "no card" answers
in a row (one lost poll must not read the same card twice), with IdCardRemoved.

Every exchange has a total deadline (the find and select answers are 100 ms on real modules,
the 1295-byte read about 0.11 s on the wire at 115200 baud plus the SAM's work); the whole read,
retries included, has `read_timeout_s`. Bytes are read in short slices so that stop() is seen
within 50 ms; a thread stuck anyway is abandoned (a daemon), and nothing it finds is published:
every event goes through `_emit`, which drops events of a run that stop() has ended.

A frame with a wrong checksum or length, or garbage instead of an answer, rejects that read
with its reason and is counted (`rejections()`); the read is tried `read_attempts` times
within its deadline. Stale bytes (a late answer to an exchange that timed out) are flushed
before each request, so they are never taken for the next answer.

When the port disappears (USB unplugged: open fails, or a read reports EIO) health turns
`reader-missing`, a presentation in progress ends, and the port is reopened with backoff.
Neither the text nor the photo is ever logged; the photo is handed on as opaque bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import serial

from common.backoff import Backoff
from common.clock import Deadline, china_now
from drivers.base import (
    DeviceEvent,
    EventHub,
    Health,
    HealthState,
    HealthTracker,
    Observer,
    Unsubscribe,
)
from drivers.idcard import frames
from drivers.idcard.frames import Command, FrameError, FrameProblem, Response, Status
from drivers.idcard.interface import (
    KIND,
    MAX_PHOTO_BYTES,
    TEXT_BLOCK_BYTES,
    IdCardData,
    IdCardFailure,
    IdCardHealthCode,
    IdCardRead,
    IdCardReadFailed,
    IdCardRemoved,
)
from drivers.idcard.text import InvalidText, OtherCardType, decode_block

log = logging.getLogger(__name__)

DEFAULT_PORT = "/dev/ttyUSB0"
# Where `kioskctl sim idcard serve` links its pty by default (simulators/idcard keeps the same
# value; drivers may not import simulators). Test and demo machines only: the simulator makes
# the folder 0700 and refuses one that another user owns.
SIMULATOR_LINK = "/tmp/hrss-kiosk-sim/idcard.tty"  # noqa: S108
BAUD_RATES = (115200, 57600, 38400, 19200, 9600)
POLL_INTERVAL_S = 0.3
EXCHANGE_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 3.0
READ_ATTEMPTS = 2
REMOVAL_POLLS = 2
# Unanswered or garbled polls in a row before health says the reader is not working.
ERROR_POLLS = 2
SLICE_S = 0.05  # longest single blocking read: how soon the thread sees stop()
STOP_TIMEOUT_S = 0.9
PORT_BACKOFF = Backoff(initial_s=0.25, max_s=3.0, factor=2.0, jitter=0.2)
_SAM_FAULTS = {Status.SAM_SELF_TEST_FAILED, Status.SAM_NOT_AUTHORISED}
_REMOVED = {Status.NO_CARD}


def china_today() -> dt.date:
    """Validity dates on the card are Beijing dates."""
    return china_now().date()


class _Stopped(Exception):
    pass


class _PortLost(Exception):
    pass


class _NoAnswer(Exception):
    pass


class _ReadFailure(Exception):
    def __init__(self, failure: IdCardFailure, detail: str, *, retry: bool = False) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
        self.retry = retry


@dataclass
class _Run:
    stop: threading.Event
    ended: bool = False  # set by stop() under the lock: nothing of this run is published after


class SerialIdCardReader:
    """SAM-protocol ID card reader on `port`. Construction does no I/O."""

    kind = KIND

    def __init__(
        self,
        port: str = DEFAULT_PORT,
        baudrate: int = 115200,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        exchange_timeout_s: float = EXCHANGE_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        read_attempts: int = READ_ATTEMPTS,
        removal_polls: int = REMOVAL_POLLS,
        today: Callable[[], dt.date] = china_today,
        backoff: Backoff = PORT_BACKOFF,
    ) -> None:
        if not port:
            raise ValueError("an ID card reader needs a serial port")
        # Options from the environment arrive as text ("115200"): numbers are taken as numbers.
        baudrate = int(baudrate)
        poll_interval_s, exchange_timeout_s = float(poll_interval_s), float(exchange_timeout_s)
        read_timeout_s = float(read_timeout_s)
        read_attempts, removal_polls = int(read_attempts), int(removal_polls)
        if baudrate not in BAUD_RATES:
            raise ValueError(f"baudrate must be one of {BAUD_RATES}")
        if not 0 < poll_interval_s <= 10 or not 0 < exchange_timeout_s <= 10:
            raise ValueError("poll_interval_s and exchange_timeout_s must be in (0, 10]")
        if not exchange_timeout_s <= read_timeout_s <= 30:
            raise ValueError("read_timeout_s must be between exchange_timeout_s and 30")
        if not 1 <= read_attempts <= 5 or not 1 <= removal_polls <= 10:
            raise ValueError("read_attempts must be 1..5 and removal_polls 1..10")
        self.port = port
        self.baudrate = baudrate
        self.poll_interval_s = poll_interval_s
        self.exchange_timeout_s = exchange_timeout_s
        self.read_timeout_s = read_timeout_s
        self.read_attempts = read_attempts
        self.removal_polls = removal_polls
        self._today = today
        self._backoff = backoff
        self._hub = EventHub()
        self._lock = threading.RLock()  # an observer may call stop() from inside an event
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()
        self._health = HealthTracker(
            KIND, self._emit_current,
            Health(HealthState.MISSING, IdCardHealthCode.READER_MISSING, "not started"), log,
        )

    # -- Device ---------------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._run is not None:
                return
            run = _Run(threading.Event())
            self._run = run
            self._health.restart()
            thread = threading.Thread(target=self._loop, args=(run,), daemon=True,
                                      name=f"idcard-{self.port}")
            self._thread = thread
        thread.start()

    def stop(self) -> None:
        with self._lock:
            run, thread = self._run, self._thread
            self._run = self._thread = None
            if run is None:
                return
            run.ended = True
            run.stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_S)  # then abandoned: it publishes nothing any more

    def health(self) -> Health:
        return self._health.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def rejections(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"SerialIdCardReader({self.port!r}, {self.baudrate})"

    # -- publishing -----------------------------------------------------------------------------
    def _emit(self, run: _Run, event: DeviceEvent) -> None:
        with self._lock:
            if run.ended:
                return
            self._hub.publish(event)

    def _emit_current(self, event: DeviceEvent) -> None:
        with self._lock:
            run = self._run
            if run is not None:
                self._emit(run, event)

    def _set_health(self, run: _Run, state: HealthState, code: str, reason: str = "") -> None:
        # An abandoned thread's findings are stale: they must not reach a later run.
        with self._lock:
            if run.ended:
                return
            self._health.set(state, code, reason)

    def _count(self, reason: str) -> None:
        with self._lock:
            self._counts[str(reason)] += 1

    # -- the port -------------------------------------------------------------------------------
    def _loop(self, run: _Run) -> None:
        attempt = 0
        while not run.stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                attempt += 1
                log.debug("idcard: cannot open %s: %s", self.port, exc)
                self._set_health(run, HealthState.MISSING, IdCardHealthCode.READER_MISSING,
                                 f"serial port {self.port} cannot be opened")
                run.stop.wait(self._backoff.delay(attempt))
                continue
            attempt = 0
            try:
                _Session(self, run, port).poll()
            except _Stopped:
                pass
            except _PortLost as exc:
                log.debug("idcard: %s lost: %s", self.port, exc)
                self._set_health(run, HealthState.MISSING, IdCardHealthCode.READER_MISSING,
                                 f"serial port {self.port} went away")
                run.stop.wait(self._backoff.delay(1))
            except Exception:  # a bug must not end monitoring for good
                log.exception("idcard: monitoring failed; reopening the port")
                self._set_health(run, HealthState.MISSING, IdCardHealthCode.READER_ERROR,
                                 "the driver failed; retrying")
                run.stop.wait(self._backoff.max_s)
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def _open(self) -> serial.Serial:
        port = serial.Serial()
        port.port = self.port
        port.baudrate = self.baudrate
        port.bytesize, port.parity, port.stopbits = serial.EIGHTBITS, serial.PARITY_NONE, 1
        port.timeout = SLICE_S
        port.write_timeout = self.exchange_timeout_s
        port.exclusive = True  # two programs polling one reader garble each other's answers
        port.open()
        return port


class _Session:
    """One open port: polls, tracks the presentation, reads cards. Runs on the driver thread."""

    def __init__(self, reader: SerialIdCardReader, run: _Run, port: serial.Serial) -> None:
        self.r = reader
        self.run = run
        self.port = port
        self.presenting = False
        self.absent_polls = 0
        self.bad_polls = 0

    def emit(self, event: DeviceEvent) -> None:
        self.r._emit(self.run, event)

    def health(self, state: HealthState, code: str, reason: str = "") -> None:
        self.r._set_health(self.run, state, code, reason)

    def poll(self) -> None:
        try:
            while not self.run.stop.is_set():
                self._poll_once()
                if self.run.stop.wait(self.r.poll_interval_s):
                    return
        except _PortLost:
            self._end_presentation()
            raise

    def _poll_once(self) -> None:
        r = self.r
        try:
            answer = self.exchange(Command.FIND_CARD, r.exchange_timeout_s)
        except (_NoAnswer, FrameError) as exc:
            self.bad_polls += 1
            if self.bad_polls >= ERROR_POLLS:
                what = "no answer" if isinstance(exc, _NoAnswer) else f"bad answers ({exc})"
                self.health(HealthState.MISSING, IdCardHealthCode.READER_ERROR,
                            f"{what} from the reader on {r.port}")
            return
        self.bad_polls = 0
        if answer.sw3 in _SAM_FAULTS:
            self.health(HealthState.MISSING, IdCardHealthCode.SAM_ERROR,
                        frames.status_text(answer.sw3))
            self._end_presentation()
            return
        if answer.sw3 == Status.FIND_OK:
            self.health(HealthState.OK, IdCardHealthCode.OK)
            self.absent_polls = 0
            if not self.presenting:
                self.presenting = True
                self._read_presented()
            return
        if answer.sw3 == Status.NO_CARD:
            self.health(HealthState.OK, IdCardHealthCode.OK)
            if self.presenting:
                self.absent_polls += 1
                if self.absent_polls >= r.removal_polls:
                    self._end_presentation()
            return
        self.health(HealthState.MISSING, IdCardHealthCode.READER_ERROR,
                    f"find card answered {frames.status_text(answer.sw3)}")

    def _end_presentation(self) -> None:
        if self.presenting:
            self.presenting = False
            self.absent_polls = 0
            self.emit(IdCardRemoved(reader=self.r.port))

    # -- reading one card ---------------------------------------------------------------------
    def _read_presented(self) -> None:
        r = self.r
        deadline = Deadline(r.read_timeout_s)
        failure: _ReadFailure | None = None
        for attempt in range(r.read_attempts):
            if deadline.remaining() <= 0:
                break
            try:
                data = self._read_once(deadline, find_first=attempt > 0)
            except _ReadFailure as exc:
                failure = exc
                if not exc.retry:
                    break
                continue
            self.emit(IdCardRead(reader=r.port, data=data))
            return
        if failure is None:
            failure = _ReadFailure(IdCardFailure.UNRESPONSIVE,
                                   f"no read within {r.read_timeout_s:g} s")
        r._count(failure.failure)
        log.info("idcard read rejected: %s (%s)", failure.failure, failure.detail)
        self.emit(IdCardReadFailed(reader=r.port, failure=failure.failure,
                                   detail=failure.detail))
        if failure.failure is IdCardFailure.REMOVED:
            self._end_presentation()

    def _step(self, command: Command, deadline: Deadline) -> Response:
        # Find and select answer at once; the read gets what is left of the read's deadline.
        timeout = deadline.remaining()
        if command is not Command.READ_BASE:
            timeout = min(timeout, self.r.exchange_timeout_s)
        if timeout <= 0:
            raise _ReadFailure(IdCardFailure.UNRESPONSIVE,
                               f"no read within {self.r.read_timeout_s:g} s")
        try:
            answer = self.exchange(command, timeout)
        except _NoAnswer as exc:
            raise _ReadFailure(IdCardFailure.UNRESPONSIVE, f"no answer to {command.name}",
                               retry=True) from exc
        except FrameError as exc:
            raise _ReadFailure(IdCardFailure.BAD_FRAME, f"{exc.problem}: in the answer to"
                               f" {command.name}", retry=True) from exc
        if answer.sw3 in _REMOVED:
            raise _ReadFailure(IdCardFailure.REMOVED, "the card left the reader")
        if answer.sw3 in _SAM_FAULTS:
            self.health(HealthState.MISSING, IdCardHealthCode.SAM_ERROR,
                        frames.status_text(answer.sw3))
            raise _ReadFailure(IdCardFailure.READER_UNAVAILABLE, frames.status_text(answer.sw3))
        return answer

    def _read_once(self, deadline: Deadline, *, find_first: bool) -> IdCardData:
        if find_first:
            found = self._step(Command.FIND_CARD, deadline)
            if found.sw3 != Status.FIND_OK:
                raise _ReadFailure(IdCardFailure.READ_FAILED, frames.status_text(found.sw3))
        selected = self._step(Command.SELECT_CARD, deadline)
        if selected.sw3 != Status.SUCCESS:
            raise _ReadFailure(IdCardFailure.READ_FAILED,
                               f"select: {frames.status_text(selected.sw3)}", retry=True)
        answer = self._step(Command.READ_BASE, deadline)
        if answer.sw3 != Status.SUCCESS:
            raise _ReadFailure(IdCardFailure.READ_FAILED,
                               f"read: {frames.status_text(answer.sw3)}", retry=True)
        try:
            text, photo = _split_base(answer.data)
        except _ReadFailure:
            self.r._count(FrameProblem.BAD_LENGTH)
            raise
        try:
            data = decode_block(text, photo)
        except OtherCardType as exc:
            raise _ReadFailure(IdCardFailure.UNSUPPORTED_CARD, str(exc)) from exc
        except InvalidText as exc:
            raise _ReadFailure(IdCardFailure.INVALID_DATA, str(exc)) from exc
        if data.is_expired(self.r._today()):
            raise _ReadFailure(IdCardFailure.EXPIRED, f"valid until {data.valid_until_text}")
        return data

    # -- one exchange ---------------------------------------------------------------------------
    def exchange(self, command: Command, timeout_s: float) -> Response:
        """Send one request and wait for its answer, within `timeout_s` in all."""
        deadline = Deadline(timeout_s)
        port = self.port
        try:
            stale = port.in_waiting
            if stale:
                # A late answer to an exchange that timed out: never take it for this one.
                port.reset_input_buffer()
                self.r._count("stale-bytes")
            port.write_timeout = max(deadline.remaining(), SLICE_S)
            port.write(frames.build_request(command))
            reader = frames.FrameReader()
            while True:
                if self.run.stop.is_set():
                    raise _Stopped
                remaining = deadline.remaining()
                if remaining <= 0:
                    if reader.skipped or reader.pending:
                        self.r._count(FrameProblem.GARBAGE)
                        raise FrameError(FrameProblem.GARBAGE,
                                         f"{reader.skipped + reader.pending} bytes, no frame")
                    raise _NoAnswer(command.name)
                port.timeout = min(remaining, SLICE_S)
                chunk = port.read(min(max(port.in_waiting, 1), 4096))
                if not chunk:
                    continue
                reader.feed(chunk)
                try:
                    frame = reader.next_frame()
                except FrameError as exc:
                    self.r._count(exc.problem)
                    raise
                if frame is not None:
                    return frames.parse_response(frame)
        except serial.SerialTimeoutException as exc:
            raise _NoAnswer(f"{command.name}: write timed out") from exc
        except (serial.SerialException, OSError) as exc:
            raise _PortLost(str(exc)) from exc


def _split_base(data: bytes) -> tuple[bytes, bytes]:
    """The text block and photo of a 30 01 answer: u16 text length, u16 photo length, both."""
    if len(data) < 4:
        raise _ReadFailure(IdCardFailure.BAD_FRAME, "bad-length: no block lengths", retry=True)
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BLOCK_BYTES or photo_len > MAX_PHOTO_BYTES \
            or len(data) != 4 + text_len + photo_len:
        raise _ReadFailure(IdCardFailure.BAD_FRAME,
                           f"bad-length: text {text_len}, photo {photo_len}, data {len(data)}",
                           retry=True)
    return data[4 : 4 + text_len], data[4 + text_len :]


def simulated_idcard_reader(port: str | None = None, **options: object) -> SerialIdCardReader:
    """The real serial driver on the simulator's pty (kioskctl sim idcard serve's link)."""
    return SerialIdCardReader(port or SIMULATOR_LINK, **options)  # type: ignore[arg-type]
