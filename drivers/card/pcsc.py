"""The card reader over PC/SC (pcsc-lite via pyscard's low-level `smartcard.scard` API).

One monitoring thread per reader blocks in SCardGetStatusChange with a short timeout (so
`stop()` is prompt; SCardCancel makes it immediate) and publishes every event. Each card read
runs on a worker thread of its own (drivers/card/worker.py) with a total deadline: pcsc-lite
cannot interrupt a transmit from another thread, so a card that stops answering mid-APDU is
abandoned to its worker, the read fails as UNRESPONSIVE, and `stop()` never waits for it.
Other PC/SC calls that can block (establishing a context, listing readers) are bounded too.

Events for one card are CardInserted, CardRead or CardReadFailed, then CardRemoved. Only the
current monitoring thread publishes, and never after stop() has begun: a thread that stop()
abandoned, or a worker finishing late, cannot publish anything.

When pcscd is down the thread keeps re-establishing its context with backoff and recovers by
itself. A reader another program holds exclusively (SCARD_E_SHARING_VIOLATION, or a
transaction that never ends) makes health degraded (`reader-busy`) and the read is retried with
backoff while the card stays in, up to `busy_timeout_s`.

Health changes are logged once each, at INFO, by drivers.base.HealthTracker; the PC/SC details
behind them go to DEBUG, so that an error repeated at every retry does not fill the log.

Only the low-level API is used: every call returns a PC/SC result code, which maps directly to
a CardFailure, and no pyscard observer threads run behind our back.

Generation 3 cards are authenticated with the PSAM in `sam_reader` (the terminal's SAM slot,
never watched for card events) on the read's worker, inside the same deadline. PIN operations
(drivers/card/pin.py) run on workers of their own with `pin_timeout_s`, on the card last read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smartcard import scard

from common.backoff import Backoff
from common.clock import Deadline
from drivers.base import (
    DeviceEvent,
    EventHub,
    Health,
    HealthState,
    HealthTracker,
    Observer,
    Unsubscribe,
)
from drivers.card import apdu, pin, psam, ssc
from drivers.card.interface import (
    DEFAULT_SLOT,
    CardData,
    CardFailure,
    CardHealthCode,
    CardInserted,
    CardRead,
    CardReadError,
    CardReadFailed,
    CardRemoved,
    PartialCardData,
    Pin,
    PinOutcome,
    PinResult,
    ReloadAuthoriser,
    StaffCredential,
)
from drivers.card.worker import Abandoned, CallTimedOut, Worker, WorkerThread, call_within

log = logging.getLogger(__name__)

_MASK = 0xFFFFFFFF
# The context itself is gone: pcscd stopped or restarted.
_CONTEXT_LOST = frozenset(
    c & _MASK
    for c in (
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_INVALID_HANDLE,
        scard.SCARD_F_COMM_ERROR,
    )
)
# The reader went away (unplugged, or its driver failed).
_READER_GONE = frozenset(
    c & _MASK
    for c in (
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_NO_READERS_AVAILABLE,
    )
)
_NO_CARD = frozenset(c & _MASK for c in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD))
_UNRESPONSIVE = frozenset(
    c & _MASK
    for c in (
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_E_PROTO_MISMATCH,
    )
)
_SHARING_VIOLATION = scard.SCARD_E_SHARING_VIOLATION & _MASK

# How long a failed transmit waits for pcscd to report the card gone before calling the card
# unreadable instead. pcscd polls about every 400 ms; removal was seen 138-343 ms after it.
REMOVAL_CONFIRM_S = 1.5
# A whole read (connect, transaction, 16 APDUs, disconnect) takes 2-3 ms on vpcd and well under
# a second on a real reader; a card that needs longer is not going to finish.
READ_TIMEOUT_S = 5.0
# How long an inserted card waits for a reader that another program holds exclusively.
BUSY_TIMEOUT_S = 10.0
# Establishing a context or listing readers answers in microseconds; a pcscd that takes this
# long is frozen.
CALL_TIMEOUT_S = 2.0
# stop() returns within a second: this long it joins, then it abandons what is still stuck.
STOP_TIMEOUT_S = 0.9
STOP_CANCEL_INTERVAL_S = 0.05
SERVICE_BACKOFF = Backoff(initial_s=0.25, max_s=3.0, factor=2.0, jitter=0.2)
BUSY_BACKOFF = Backoff(initial_s=0.1, max_s=1.0, factor=2.0, jitter=0.2)
READER_ERROR_RETRY_S = 1.0
# A PIN operation (connect, SELECT, identity check, one or two commands; for a reload the
# authoriser's round trip to the edge as well) within this, whatever the card does.
PIN_TIMEOUT_S = 10.0
_PIN_FAILURES = {
    CardFailure.REMOVED: PinOutcome.REMOVED,
    CardFailure.UNRESPONSIVE: PinOutcome.UNRESPONSIVE,
    CardFailure.READER_UNAVAILABLE: PinOutcome.READER_UNAVAILABLE,
    CardFailure.NOT_SSC: PinOutcome.NOT_SSC,
}


class PcscError(Exception):
    """A PC/SC call failed; `code` is the unsigned result code (e.g. 0x80100069)."""

    def __init__(self, call: str, code: int) -> None:
        self.call = call
        self.code = code & _MASK
        super().__init__(f"{call}: 0x{self.code:08X} {scard.SCardGetErrorMessage(code)}")


class _Stopped(Exception):
    """stop() was called while the monitoring thread was busy."""


class ReaderBusy(CardReadError):
    """Another program holds the reader exclusively (or in a transaction that does not end)."""

    def __init__(self, detail: str) -> None:
        super().__init__(CardFailure.READER_UNAVAILABLE, detail)


def _check(call: str, hresult: int) -> None:
    if hresult & _MASK != scard.SCARD_S_SUCCESS:
        raise PcscError(call, hresult)


def _release(context: int) -> None:
    with contextlib.suppress(CallTimedOut):
        call_within(lambda: scard.SCardReleaseContext(context), CALL_TIMEOUT_S, "pcsc-release")


def _establish(name: str = "pcsc-establish") -> int:
    """A new PC/SC context; PcscError when pcscd is not running, CallTimedOut when it does not
    answer (a context that arrives too late is released)."""

    def establish() -> int:
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check("SCardEstablishContext", hresult)
        return int(context)

    return call_within(establish, CALL_TIMEOUT_S, name, on_late=scard.SCardReleaseContext)


def _service_alive() -> bool:
    """Whether pcscd answers. A call on a context whose daemon died does not always say
    SCARD_E_NO_SERVICE (pcsc-lite 1.9.9 was seen answering SCARD_W_SECURITY_VIOLATION), so
    an unexpected error is followed by this probe on a fresh context."""
    try:
        context = _establish("pcsc-probe")
    except (PcscError, CallTimedOut):
        return False
    _release(context)
    return True


def _failure_for(code: int) -> CardFailure | None:
    """The CardFailure a PC/SC result code means by itself; None when it needs a closer look."""
    if code in _NO_CARD:
        return CardFailure.REMOVED
    if code in _UNRESPONSIVE:
        return CardFailure.UNRESPONSIVE
    if code in _CONTEXT_LOST or code in _READER_GONE or code == _SHARING_VIOLATION:
        return CardFailure.READER_UNAVAILABLE
    return None


@dataclass(frozen=True)
class _ReaderState:
    event_state: int
    atr: str

    @property
    def present(self) -> bool:
        return bool(self.event_state & scard.SCARD_STATE_PRESENT)

    @property
    def mute(self) -> bool:
        return bool(self.event_state & scard.SCARD_STATE_MUTE)

    @property
    def counter(self) -> int:
        """pcsc-lite counts card events in the upper 16 bits: a new value means another card,
        even when a removal and an insertion fell between two of our polls."""
        return self.event_state >> 16

    @property
    def current(self) -> int:
        """What to pass back as dwCurrentState so the next call blocks until a change."""
        return self.event_state & ~scard.SCARD_STATE_CHANGED


class _Connection:
    """One card session: SCardConnect (T=0 or T=1, shared) inside a transaction.

    Runs on a read worker: every step first checks whether the caller gave up, and says in
    `worker.phase` what it is waiting for, so that a timeout can tell a busy reader (stuck in
    "connect" or "transaction") from a card that stopped answering ("apdu").
    """

    def __init__(
        self, context: int, reader: str, worker: Worker[Any], atr: str | None = None
    ) -> None:
        """`atr`: the ATR pcscd already reported for this card (saves an SCardStatus)."""
        self._worker = worker
        worker.phase = "connect"
        worker.check()
        hresult, self._card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        _check("SCardConnect", hresult)
        self.t0 = protocol == scard.SCARD_PROTOCOL_T0
        self.protocol = "T=0" if self.t0 else "T=1"
        self._pci = scard.SCARD_PCI_T0 if self.t0 else scard.SCARD_PCI_T1
        self._in_transaction = False
        try:
            if atr is None:
                hresult, _, _, _, raw_atr = scard.SCardStatus(self._card)
                _check("SCardStatus", hresult)
                atr = bytes(raw_atr).hex().upper()
            self.atr = atr
            # Keeps other applications from interleaving APDUs with our read sequence. pcsc-lite
            # retries a transaction another program holds without end: the worker's deadline
            # bounds it.
            worker.phase = "transaction"
            worker.check()
            _check("SCardBeginTransaction", scard.SCardBeginTransaction(self._card))
            self._in_transaction = True
            worker.check()
        except (PcscError, Abandoned):
            self.close()
            raise

    def transmit(self, command: bytes) -> bytes:
        self._worker.phase = "apdu"
        self._worker.check()  # a read nobody awaits sends nothing more
        hresult, response = scard.SCardTransmit(self._card, self._pci, list(command))
        _check("SCardTransmit", hresult)
        return bytes(response)

    def close(self) -> None:
        # Best effort: the card or pcscd may be gone already.
        if self._in_transaction:
            self._in_transaction = False
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
        scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)


class PcscCardReader:
    """CardReader on a PC/SC reader whose name contains `reader_name` (None: the first one).

    `slot` names the slot in events ("contact", "contactless"); `sam_reader` is the SAM
    slot's reader, where the PSAM for generation 3 cards sits (never watched for cards, even
    when `reader_name` is None and it comes first).

    Health codes are CardHealthCode: `ok`, `pcsc-unavailable` (no pcscd, or it does not
    answer), `reader-missing` (no matching reader), `reader-error` (PC/SC answered something
    unexpected; retried with backoff), `reader-busy` (degraded: another program holds the
    reader exclusively; the read is retried).

    `read_timeout_s` bounds each read from connect to disconnect; `busy_timeout_s` how long an
    inserted card waits for a busy reader before its read fails as READER_UNAVAILABLE.
    """

    kind = "card_reader"

    def __init__(
        self,
        reader_name: str | None = None,
        poll_timeout_s: float = 0.5,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        slot: str = DEFAULT_SLOT,
        sam_reader: str | None = None,
        pin_timeout_s: float = PIN_TIMEOUT_S,
    ) -> None:
        if read_timeout_s <= 0 or busy_timeout_s < 0 or poll_timeout_s <= 0 or pin_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if sam_reader is not None and not sam_reader:
            raise ValueError("sam_reader names a reader (a substring of its name) or is None")
        self.reader_name = reader_name
        self.slot = slot
        self.sam_reader = sam_reader
        self.pin_timeout_s = pin_timeout_s
        self.poll_timeout_s = poll_timeout_s
        self.read_timeout_s = read_timeout_s
        self.busy_timeout_s = busy_timeout_s
        self._hub = EventHub()
        self._health = HealthTracker(
            self.kind,
            self._publish,
            Health(HealthState.MISSING, CardHealthCode.READER_MISSING, "Not started"),
            log,
        )
        # Held while publishing and while stop() raises the flag: once stop() has it, no event
        # is on its way out and none will follow (an observer calling stop() re-enters).
        self._publish_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context_lock = threading.Lock()
        self._context: int | None = None  # the monitor's, so that stop() can cancel it
        self._worker: Worker[CardData] | None = None  # the monitor's read in progress
        self._reader: str | None = None  # the reader being watched, for events
        self._read_reader: str | None = None  # the reader read() found last
        self._sam_found: str | None = None  # the SAM reader found last (one listing less)
        self._spare_lock = threading.Lock()
        self._spare_context: int | None = None  # read()'s context, kept between reads
        self._read_thread = WorkerThread("card-read-worker-caller")  # read()'s, reused
        self._card: _ReaderState | None = None  # the card the events are about, if any
        # The identification code of the card last read (CardRead or NEEDS_PSAM): PIN
        # operations act on that card only. Not citizen data.
        self._card_id: str | None = None
        self._pin_workers: set[Worker[PinResult]] = set()  # under _pin_lock
        self._pin_lock = threading.Lock()

    # -- Device contract --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
            return
        stop = threading.Event()  # a thread stop() abandoned keeps the old one, which is set
        with self._publish_lock:
            self._stop = stop
        self._health.restart()
        self._card = None  # a new run reports the card in the reader afresh
        thread = threading.Thread(
            target=self._run, args=(stop,), name="card-reader-pcsc", daemon=True
        )
        self._thread = thread  # before it runs: only this thread may publish
        thread.start()

    def stop(self) -> None:
        """Ends monitoring within a second. The thread is joined when it blocks in
        SCardGetStatusChange (SCardCancel wakes it), waits to retry, or waits for a read
        (the read's worker is abandoned); a thread stuck in pcscd itself is abandoned too."""
        with self._publish_lock:
            self._stop.set()
        worker = self._worker
        if worker is not None:
            worker.interrupt()
        with self._pin_lock:
            pin_workers = list(self._pin_workers)
        for pin_worker in pin_workers:
            pin_worker.interrupt()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return  # an observer calling stop() cannot join its own thread; it ends by itself
        # SCardCancel only wakes a wait already in progress: one the thread enters just after
        # it last saw the stop flag would run its full poll timeout. So cancel until it ends.
        # SCardCancel talks to pcscd, so it runs on a thread of its own as well.
        deadline = Deadline(STOP_TIMEOUT_S)
        while thread.is_alive() and not deadline.expired:
            self._cancel_wait(deadline)
            thread.join(min(STOP_CANCEL_INTERVAL_S, deadline.remaining()))
        if thread.is_alive():
            log.warning("card reader thread did not end in time; abandoned")
        self._thread = None

    def health(self) -> Health:
        return self._health.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    @property
    def reader(self) -> str | None:
        """The full name of the reader being watched, once one matched."""
        return self._reader

    def read(self) -> CardData:
        """Read the card present now, on the caller's thread, within `read_timeout_s`, with a
        PC/SC context of its own (the monitor's context is busy in SCardGetStatusChange)."""
        deadline = Deadline(self.read_timeout_s)
        worker = self._read_thread.submit(self._read_present)
        try:
            return worker.wait(deadline)
        except CallTimedOut as exc:
            raise self._timed_out(exc) from exc

    # -- monitoring thread ------------------------------------------------------------------------
    def _run(self, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                context = _establish()
            except (PcscError, CallTimedOut) as exc:
                reason = (
                    "The PC/SC service does not answer" if isinstance(exc, CallTimedOut)
                    else "The PC/SC service is not running"
                )
                self._health.set(HealthState.MISSING, CardHealthCode.PCSC_UNAVAILABLE, reason)
                attempt += 1
                stop.wait(SERVICE_BACKOFF.delay(attempt))
                continue
            attempt = 0
            with self._context_lock:
                self._context = context
            try:
                self._watch(context, stop)
            except _Stopped:
                pass
            except (PcscError, CallTimedOut) as exc:
                code = exc.code if isinstance(exc, PcscError) else None
                if code in _CONTEXT_LOST or not _service_alive():
                    log.debug("lost the PC/SC service: %s", exc)
                    self._health.set(
                        HealthState.MISSING, CardHealthCode.PCSC_UNAVAILABLE,
                        "The PC/SC service stopped",
                    )
                else:
                    log.debug("PC/SC error: %s", exc)
                    self._health.set(HealthState.MISSING, CardHealthCode.READER_ERROR, str(exc))
                    stop.wait(READER_ERROR_RETRY_S)
            except Exception:
                log.exception("card reader monitor failed; starting over")
                self._health.set(
                    HealthState.MISSING, CardHealthCode.READER_ERROR, "Internal error"
                )
                stop.wait(SERVICE_BACKOFF.max_s)
            finally:
                self._end_card()
                with self._context_lock:
                    if self._context == context:  # not a newer run's, if stop() abandoned us
                        self._context = None
                _release(context)

    def _watch(self, context: int, stop: threading.Event) -> None:
        """Find the reader, then follow it until it goes; raises PcscError when the context
        is lost and _Stopped on stop()."""
        while not stop.is_set():
            reader = self._find_reader(context)
            if reader is None:
                wanted = f"matching '{self.reader_name}'" if self.reader_name else "at all"
                self._health.set(
                    HealthState.MISSING, CardHealthCode.READER_MISSING, f"No card reader {wanted}"
                )
                stop.wait(self.poll_timeout_s)
                continue
            self._reader = reader
            self._health.set(HealthState.OK, CardHealthCode.OK)
            self._follow(context, reader, stop)
        raise _Stopped

    def _follow(self, context: int, reader: str, stop: threading.Event) -> None:
        current = scard.SCARD_STATE_UNAWARE
        timeout_ms = max(int(self.poll_timeout_s * 1000), 1)
        while not stop.is_set():
            try:
                state = self._status(context, reader, current, timeout_ms)
            except PcscError as exc:
                if exc.code in _READER_GONE:
                    log.debug("card reader %s went away", reader)
                    self._end_card()
                    return
                raise
            if state is None:  # timeout or cancelled: look at the stop flag again
                continue
            current = state.current
            if state.event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                self._end_card()
                return
            if self._card is not None and (
                not state.present or state.counter != self._card.counter
            ):
                self._end_card()
            if state.present and self._card is None:
                self._card_inserted(context, reader, state, stop)

    def _card_inserted(
        self, context: int, reader: str, state: _ReaderState, stop: threading.Event
    ) -> None:
        self._card = state
        log.info("card inserted in %s (ATR %s)", reader, state.atr)
        self._publish(CardInserted(reader=reader, atr=state.atr, slot=self.slot))
        if state.mute:
            self._publish_failure(reader, CardFailure.UNRESPONSIVE, "the card gives no ATR")
            return
        try:
            data = self._read_inserted(context, reader, state, stop)
        except CardReadError as exc:
            if stop.is_set():
                raise _Stopped from exc
            if exc.partial is not None:
                self._card_id = exc.partial.card_id_code or None
            self._publish_failure(reader, exc.failure, exc.detail, exc.partial)
            return
        if stop.is_set():
            raise _Stopped
        log.info(
            "card read: generation %d, %s, %d warning(s)%s",
            data.generation, data.protocol, len(data.warnings),
            ", name may be truncated" if data.name_truncated else "",
        )
        self._card_id = data.card_id_code or None
        self._publish(CardRead(reader=reader, data=data, slot=self.slot))

    def _read_inserted(
        self, context: int, reader: str, state: _ReaderState, stop: threading.Event
    ) -> CardData:
        """Read the card just inserted, retrying while another program holds the reader."""
        busy_since: Deadline | None = None
        attempt = 0
        while True:
            try:
                data = self._read_on_worker(reader, state, stop)
            except ReaderBusy as exc:
                self._health.set(
                    HealthState.DEGRADED, CardHealthCode.READER_BUSY,
                    "Another program holds the card reader",
                )
                busy_since = busy_since or Deadline(self.busy_timeout_s)
                attempt += 1
                delay = BUSY_BACKOFF.delay(attempt)
                if busy_since.remaining() < delay:
                    raise CardReadError(
                        CardFailure.READER_UNAVAILABLE,
                        f"another program held the reader for {self.busy_timeout_s:g} s",
                    ) from exc
                self._wait_while_present(context, reader, state, delay, stop)
                continue
            except CardReadError:
                self._not_busy()
                raise
            self._not_busy()
            return data

    def _read_on_worker(
        self, reader: str, state: _ReaderState, stop: threading.Event
    ) -> CardData:
        worker: Worker[CardData] = Worker(
            lambda w: self._read_with_own_context(w, reader, state), "card-read-worker"
        )
        self._worker = worker
        try:
            if stop.is_set():  # stop() came before the worker was visible to it
                worker.interrupt()
            return worker.wait(Deadline(self.read_timeout_s))
        except CallTimedOut as exc:
            if stop.is_set():
                raise _Stopped from exc
            raise self._timed_out(exc) from exc
        finally:
            if self._worker is worker:
                self._worker = None

    def _timed_out(self, exc: CallTimedOut) -> CardReadError:
        # pcsc-lite makes SCardConnect and SCardBeginTransaction wait, without end, while
        # another program keeps a transaction open; the card is not involved yet (pcscd
        # powered it up on insertion, and a mute card is reported at once).
        if exc.phase in ("connect", "transaction"):
            return ReaderBusy("another program keeps the reader in a transaction")
        if exc.phase == "service":
            return CardReadError(
                CardFailure.READER_UNAVAILABLE, "the PC/SC service does not answer"
            )
        return CardReadError(
            CardFailure.UNRESPONSIVE,
            f"the card did not finish within {self.read_timeout_s:g} s (stuck in {exc.phase})",
        )

    def _wait_while_present(
        self, context: int, reader: str, state: _ReaderState, seconds: float,
        stop: threading.Event,
    ) -> None:
        """Wait `seconds` for a retry; CardReadError(REMOVED) if the card goes meanwhile."""
        deadline = Deadline(seconds)
        current = state.current
        while (remaining := deadline.remaining()) > 0:
            if stop.is_set():
                raise _Stopped
            try:
                now = self._status(context, reader, current, max(int(remaining * 1000), 1))
            except PcscError as exc:
                if exc.code in _READER_GONE:
                    raise CardReadError(CardFailure.READER_UNAVAILABLE, str(exc)) from exc
                raise
            if now is None:
                continue
            if not now.present or now.counter != state.counter:
                raise CardReadError(CardFailure.REMOVED, "the card was removed while waiting")
            current = now.current

    def _not_busy(self) -> None:
        if self._health.current.code == CardHealthCode.READER_BUSY:
            self._health.set(HealthState.OK, CardHealthCode.OK)

    def _publish_failure(
        self, reader: str, failure: CardFailure, detail: str,
        partial: PartialCardData | None = None,
    ) -> None:
        log.info("card read failed: %s (%s)", failure, detail)
        self._publish(CardReadFailed(
            reader=reader, failure=failure, detail=detail, slot=self.slot, partial=partial,
        ))

    def _end_card(self) -> None:
        """CardRemoved for the card the events are about, exactly once."""
        if threading.current_thread() is not self._thread:
            return  # a run that stop() abandoned: the card state is a newer run's
        if self._card is not None:
            self._card = None
            self._card_id = None
            reader = self._reader or ""
            log.info("card removed from %s", reader)
            self._publish(CardRemoved(reader=reader, slot=self.slot))
            # The program that held the card exclusively lost it with the card.
            self._not_busy()

    def _publish(self, event: DeviceEvent) -> None:
        """Hand `event` to the observers, unless stop() has begun or this is not the current
        monitoring thread (one that stop() abandoned, or a read worker)."""
        with self._publish_lock:
            if self._stop.is_set() or threading.current_thread() is not self._thread:
                log.debug("dropped %s: the reader is stopping", type(event).__name__)
                return
            self._hub.publish(event)

    def _cancel_wait(self, deadline: Deadline) -> None:
        def cancel() -> None:
            with self._context_lock:
                if self._context is not None:
                    scard.SCardCancel(self._context)

        with contextlib.suppress(CallTimedOut):
            call_within(cancel, max(deadline.remaining(), 0.0), "pcsc-cancel")

    # -- PC/SC helpers ----------------------------------------------------------------------------
    def _find_reader(
        self, context: int, *, sam: bool = False, bounded: bool = True
    ) -> str | None:
        """The card reader to watch (never the SAM slot's), or with `sam` the SAM reader.
        `bounded=False` on a worker, whose own deadline bounds the call (a thread less)."""
        if bounded:
            hresult, readers = call_within(
                lambda: scard.SCardListReaders(context, []), CALL_TIMEOUT_S, "pcsc-list-readers"
            )
        else:
            hresult, readers = scard.SCardListReaders(context, [])
        code = hresult & _MASK
        if code in (scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_READER_UNAVAILABLE):
            return None
        _check("SCardListReaders", hresult)
        for name in readers:
            is_sam = self.sam_reader is not None and self.sam_reader in name
            if sam:
                if is_sam:
                    return str(name)
            elif not is_sam and (self.reader_name is None or self.reader_name in name):
                return str(name)
        return None

    def _status(
        self, context: int, reader: str, current: int, timeout_ms: int
    ) -> _ReaderState | None:
        """SCardGetStatusChange for one reader; None on timeout or cancel. Bounded by its
        timeout (pcsc-lite's client waits for pcscd with it) and SCardCancel."""
        hresult, states = scard.SCardGetStatusChange(context, timeout_ms, [(reader, current)])
        code = hresult & _MASK
        if code in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
            return None
        _check("SCardGetStatusChange", hresult)
        _, event_state, atr = states[0]
        return _ReaderState(event_state=event_state, atr=bytes(atr).hex().upper())

    # -- read workers -----------------------------------------------------------------------------
    def _read_present(self, worker: Worker[CardData]) -> CardData:
        """read(): find the reader and the card in it, then read it.

        The context of the last read that ended cleanly is used again (establishing one is
        the dearest PC/SC call of a read). One from a pcscd that has restarted since fails
        as READER_UNAVAILABLE: then the read, which changes nothing on the card, is tried
        once more on a fresh context. An abandoned worker never hands its context back.
        """
        worker.phase = "service"
        for attempt in range(2):
            with self._spare_lock:
                context = self._spare_context if attempt == 0 else None
                self._spare_context = None
            reused = context is not None
            if context is None:
                hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hresult & _MASK != scard.SCARD_S_SUCCESS:
                    raise CardReadError(
                        CardFailure.READER_UNAVAILABLE, "the PC/SC service is not running"
                    )
            keep = False
            try:
                data = self._read_present_on(worker, context)
                keep = True
                return data
            except CardReadError as exc:
                stale = exc.failure is CardFailure.READER_UNAVAILABLE and not isinstance(
                    exc, ReaderBusy
                )
                keep = not stale
                if not (stale and reused):
                    raise
                log.debug("read(): the kept PC/SC context failed (%s); once more afresh", exc)
            finally:
                self._release_or_keep(context, keep and not worker.cancelled.is_set())
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _release_or_keep(self, context: int, keep: bool) -> None:
        with self._spare_lock:
            if keep and self._spare_context is None:
                self._spare_context = context
                return
        scard.SCardReleaseContext(context)

    def _read_present_on(self, worker: Worker[CardData], context: int) -> CardData:
        try:
            reader, state = self._present_reader(context)
        except (PcscError, CallTimedOut) as exc:
            raise CardReadError(CardFailure.READER_UNAVAILABLE, str(exc)) from exc
        if state is None or not state.present:
            raise CardReadError(CardFailure.REMOVED, "no card present")
        return self._read_card(worker, context, reader, state)

    def _present_reader(self, context: int) -> tuple[str, _ReaderState | None]:
        """The reader read() reads, and its state. The name found last time is tried first
        (one PC/SC call less a read); a reader that has gone since is looked up again."""
        reader = self._read_reader
        if reader is not None:
            try:
                return reader, self._status(context, reader, scard.SCARD_STATE_UNAWARE, 0)
            except PcscError as exc:
                if exc.code not in _READER_GONE:
                    raise
        reader = self._find_reader(context, bounded=False)
        if reader is None:
            self._read_reader = None
            raise CardReadError(CardFailure.READER_UNAVAILABLE, "no matching card reader")
        self._read_reader = reader
        return reader, self._status(context, reader, scard.SCARD_STATE_UNAWARE, 0)

    def _read_with_own_context(
        self, worker: Worker[CardData], reader: str, state: _ReaderState
    ) -> CardData:
        """The monitor's read: a context of the worker's own, so that an abandoned worker
        stuck in pcscd holds no lock the monitor needs."""
        worker.phase = "service"
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult & _MASK != scard.SCARD_S_SUCCESS:
            raise CardReadError(CardFailure.READER_UNAVAILABLE, "the PC/SC service is not running")
        try:
            return self._read_card(worker, context, reader, state)
        finally:
            scard.SCardReleaseContext(context)

    def _read_card(
        self, worker: Worker[CardData], context: int, reader: str, state: _ReaderState
    ) -> CardData:
        """Connect, read, disconnect; every failure becomes a CardReadError."""
        started = time.perf_counter()
        try:
            connection = _Connection(context, reader, worker, atr=state.atr or None)
        except PcscError as exc:
            if exc.code == _SHARING_VIOLATION:
                raise ReaderBusy("another program holds the reader exclusively") from exc
            raise self._classify(worker, context, reader, state, exc) from exc
        try:
            try:
                authenticate = None
                if self.sam_reader is not None:
                    def authenticate(card_id: bytes) -> None:
                        self._authenticate(worker, context, connection, card_id)
                data = ssc.read_card(
                    connection, atr=connection.atr, protocol=connection.protocol,
                    authenticate=authenticate,
                )
            finally:
                connection.close()  # before _classify waits: no card handle held meanwhile
        except (PcscError, apdu.MalformedResponse) as exc:
            raise self._classify(worker, context, reader, state, exc) from exc
        log.debug("card read took %.1f ms", (time.perf_counter() - started) * 1000)
        return data

    def _classify(
        self, worker: Worker[Any], context: int, reader: str, state: _ReaderState,
        exc: Exception,
    ) -> CardReadError:
        """Why a transport failure happened. Most codes say it outright; an empty response or
        a failed transaction (what vpcd and many readers give when the card goes mid-APDU)
        is REMOVED if pcscd reports the card gone shortly after, else UNREADABLE."""
        if isinstance(exc, PcscError):
            failure = _failure_for(exc.code)
            if failure is not None:
                return CardReadError(failure, str(exc))
        failure = self._after_failure(worker, context, reader, state)
        if failure is CardFailure.REMOVED:
            return CardReadError(failure, "the card was removed during the read")
        if failure is not None:
            return CardReadError(failure, f"the reader went away: {exc}")
        return CardReadError(CardFailure.UNREADABLE, f"the card stopped answering: {exc}")

    def _after_failure(
        self, worker: Worker[Any], context: int, reader: str, state: _ReaderState
    ) -> CardFailure | None:
        """Watch the reader briefly: REMOVED if the card goes (or another replaces it),
        READER_UNAVAILABLE if the reader or pcscd does, None if the card stays."""
        worker.phase = "removal-check"
        deadline = Deadline(REMOVAL_CONFIRM_S)
        current = state.current
        while (remaining := deadline.remaining()) > 0 and not worker.cancelled.is_set():
            try:
                now = self._status(context, reader, current, max(int(remaining * 1000), 1))
            except PcscError as exc:
                if exc.code in _READER_GONE or exc.code in _CONTEXT_LOST or not _service_alive():
                    return CardFailure.READER_UNAVAILABLE
                return None
            if now is None:
                continue
            if not now.present or now.counter != state.counter:
                return CardFailure.REMOVED
            current = now.current
        return None

    # -- PSAM (generation 3) ----------------------------------------------------------------------
    def _authenticate(
        self, worker: Worker[CardData], context: int, card: _Connection, card_id: bytes
    ) -> None:
        """Card authentication with the PSAM in the SAM slot, on the read's worker and context
        (drivers/card/psam.py). Raises PsamUnavailable when the slot gives no working PSAM."""
        sam = self._connect_sam(worker, context)
        try:
            transport = _PsamTransport(sam)
            psam.select_psam(transport, t0=sam.t0)
            psam.authenticate(card, transport, card_id, card_t0=card.t0, psam_t0=sam.t0)
        finally:
            sam.close()
            worker.phase = "apdu"

    def _connect_sam(self, worker: Worker[CardData], context: int) -> _Connection:
        """A connection to the PSAM. The SAM reader found last is tried first; one that has
        gone since is looked up again."""
        known = self._sam_found
        if known is not None:
            try:
                return _Connection(context, known, worker, atr="")  # its ATR is of no use
            except PcscError as exc:
                if exc.code not in _READER_GONE:
                    raise psam.PsamUnavailable(
                        f"no PSAM in the SAM slot (0x{exc.code:08X})"
                    ) from exc
                self._sam_found = None
        try:
            reader = self._find_reader(context, sam=True, bounded=False)
        except (PcscError, CallTimedOut) as exc:
            raise psam.PsamUnavailable(f"listing the readers failed ({exc})") from exc
        if reader is None:
            raise psam.PsamUnavailable("no SAM reader")
        try:
            connection = _Connection(context, reader, worker, atr="")
        except PcscError as exc:
            raise psam.PsamUnavailable(f"no PSAM in the SAM slot (0x{exc.code:08X})") from exc
        self._sam_found = reader
        return connection

    # -- PIN --------------------------------------------------------------------------------------
    def pin_tries_left(self) -> PinResult:
        """VERIFY with no data: the tries left, without using one."""
        return self._pin_operation("tries-left", lambda t, t0, _: pin.tries_left(t, t0=t0))

    def verify_pin(self, pin_: Pin) -> PinResult:
        return self._pin_operation("verify", lambda t, t0, _: pin.verify(t, pin_, t0=t0))

    def change_pin(self, old: Pin, new: Pin) -> PinResult:
        return self._pin_operation("change", lambda t, t0, _: pin.change(t, old, new, t0=t0))

    def reload_pin(
        self, new: Pin, staff: StaffCredential, authorise: ReloadAuthoriser
    ) -> PinResult:
        """A new PIN and a fresh tries counter, with the MAC `authorise` gets from whoever
        holds the card's reload key (within pin_timeout_s, the authoriser's call included)."""
        return self._pin_operation("reload", lambda t, t0, card_id: pin.staff_command(
            t, pin.RELOAD, new, t0=t0, card_id_code=card_id, staff=staff, authorise=authorise,
        ))

    def unblock_pin(self, staff: StaffCredential, authorise: ReloadAuthoriser) -> PinResult:
        """A fresh tries counter for the PIN the card has, with the authoriser's MAC."""
        return self._pin_operation("unblock", lambda t, t0, card_id: pin.staff_command(
            t, pin.UNBLOCK, None, t0=t0, card_id_code=card_id, staff=staff, authorise=authorise,
        ))

    def _pin_operation(self, name: str, operation: _PinOperation) -> PinResult:
        card_id, reader = self._card_id, self._reader
        if card_id is None or reader is None:
            return PinResult(PinOutcome.REMOVED, None, "no card has been read in this reader")
        watch = _TryWatch()
        worker: Worker[PinResult] = Worker(
            lambda w: self._pin_on_worker(w, reader, card_id, operation, watch),
            f"card-pin-{name}",
        )
        with self._pin_lock:
            self._pin_workers.add(worker)
        try:
            if self._stop.is_set() or self._thread is None:
                worker.interrupt()
            return worker.wait(Deadline(self.pin_timeout_s))
        except CallTimedOut as exc:
            busy = exc.phase in ("service", "connect", "transaction")
            outcome = PinOutcome.READER_UNAVAILABLE if busy else PinOutcome.UNRESPONSIVE
            return PinResult(
                outcome, None,
                f"the PIN {name} did not finish within {self.pin_timeout_s:g} s"
                f" (stuck in {exc.phase})" + (_TRY_MAY_BE_USED if watch.sent else ""),
                try_may_be_used=watch.sent,
            )
        finally:
            with self._pin_lock:
                self._pin_workers.discard(worker)

    def _pin_on_worker(  # noqa: PLR0911 (one return per way it can end)
        self, worker: Worker[PinResult], reader: str, card_id: str,
        operation: _PinOperation, watch: _TryWatch,
    ) -> PinResult:
        worker.phase = "service"
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult & _MASK != scard.SCARD_S_SUCCESS:
            return PinResult(
                PinOutcome.READER_UNAVAILABLE, None, "the PC/SC service is not running"
            )
        try:
            try:
                state = self._status(context, reader, scard.SCARD_STATE_UNAWARE, 0)
            except PcscError as exc:
                return PinResult(PinOutcome.READER_UNAVAILABLE, None, str(exc))
            if state is None or not state.present:
                return PinResult(PinOutcome.REMOVED, None, "no card in the reader")
            try:
                connection = _Connection(context, reader, worker)
            except PcscError as exc:
                return self._pin_failure(worker, context, reader, state, exc, watch)
            watch.transport = connection
            try:
                try:
                    pin.ensure_card(watch, t0=connection.t0, card_id_code=card_id)
                    return operation(watch, connection.t0, card_id)
                finally:
                    connection.close()
            except pin.CardChanged as exc:
                return PinResult(exc.outcome, None, exc.detail)
            except (PcscError, apdu.MalformedResponse) as exc:
                return self._pin_failure(worker, context, reader, state, exc, watch)
        finally:
            scard.SCardReleaseContext(context)

    def _pin_failure(
        self, worker: Worker[PinResult], context: int, reader: str, state: _ReaderState,
        exc: Exception, watch: _TryWatch,
    ) -> PinResult:
        if isinstance(exc, PcscError) and exc.code == _SHARING_VIOLATION:
            return PinResult(
                PinOutcome.READER_UNAVAILABLE, None, "another program holds the reader"
            )
        error = self._classify(worker, context, reader, state, exc)
        outcome = _PIN_FAILURES.get(error.failure, PinOutcome.FAILED)
        detail = (
            "the card was removed during the PIN operation"
            if outcome is PinOutcome.REMOVED else error.detail
        ) + (_TRY_MAY_BE_USED if watch.sent else "")
        return PinResult(outcome, None, detail, try_may_be_used=watch.sent)


_TRY_MAY_BE_USED = (
    "; the PIN went to the card but no answer came back, so a try may have been used:"
    " ask the tries left when the card is back"
)
# (transport, t0, card id code) -> result
_PinOperation = Callable[[apdu.Transport, bool, str], PinResult]


class _TryWatch:
    """The card connection for a PIN operation, noting whether a command that costs a try
    went out, so that a failure after it is never reported as if no try could be gone."""

    def __init__(self) -> None:
        self.transport: apdu.Transport | None = None
        self.sent = False

    def transmit(self, command: bytes) -> bytes:
        if self.transport is None:
            raise RuntimeError("no connection")
        if pin.uses_a_try(command):
            self.sent = True
        return self.transport.transmit(command)


class _PsamTransport:
    """The PSAM's connection: its failures are the PSAM's, never the card's."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def transmit(self, command: bytes) -> bytes:
        try:
            response = self._connection.transmit(command)
        except PcscError as exc:
            raise psam.PsamUnavailable(f"the PSAM stopped answering (0x{exc.code:08X})") from exc
        if len(response) < 2:
            raise psam.PsamUnavailable("the PSAM gave an empty answer")
        return response
