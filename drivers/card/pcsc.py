"""The card reader over PC/SC (pcsc-lite via pyscard's low-level `smartcard.scard` API).

One monitoring thread per reader blocks in SCardGetStatusChange with a short timeout (so
`stop()` is prompt; SCardCancel makes it immediate) and, on each insertion, reads the card on
that same thread: events for one card are CardInserted, CardRead or CardReadFailed, then
CardRemoved. When pcscd is down the thread keeps re-establishing its context with backoff and
recovers by itself.

Only the low-level API is used: every call returns a PC/SC result code, which maps directly to
a CardFailure, and no pyscard observer threads run behind our back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from smartcard import scard

from drivers.base import EventHub, Health, HealthChanged, HealthState, Observer, Unsubscribe
from drivers.card import apdu, ssc
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReadError,
    CardReadFailed,
    CardRemoved,
)

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

# How long a failed transmit waits for pcscd to report the card gone before calling the card
# unreadable instead. pcscd polls about every 400 ms; removal was seen 138-343 ms after it.
REMOVAL_CONFIRM_S = 1.5
BACKOFF_INITIAL_S = 0.25
BACKOFF_MAX_S = 3.0
READER_ERROR_RETRY_S = 1.0
STOP_CANCEL_INTERVAL_S = 0.05


class PcscError(Exception):
    """A PC/SC call failed; `code` is the unsigned result code (e.g. 0x80100069)."""

    def __init__(self, call: str, code: int) -> None:
        self.call = call
        self.code = code & _MASK
        super().__init__(f"{call}: 0x{self.code:08X} {scard.SCardGetErrorMessage(code)}")


class _Stopped(Exception):
    """stop() was called while the monitoring thread was busy."""


def _check(call: str, hresult: int) -> None:
    if hresult & _MASK != scard.SCARD_S_SUCCESS:
        raise PcscError(call, hresult)


def _service_alive() -> bool:
    """Whether pcscd answers. A call on a context whose daemon died does not always say
    SCARD_E_NO_SERVICE (pcsc-lite 1.9.9 was seen answering SCARD_W_SECURITY_VIOLATION), so
    an unexpected error is followed by this probe on a fresh context."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult & _MASK != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(context)
    return True


def _failure_for(code: int) -> CardFailure | None:
    """The CardFailure a PC/SC result code means by itself; None when it needs a closer look."""
    if code in _NO_CARD:
        return CardFailure.REMOVED
    if code in _UNRESPONSIVE:
        return CardFailure.UNRESPONSIVE
    if code in _CONTEXT_LOST or code in _READER_GONE or code == scard.SCARD_E_SHARING_VIOLATION:
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
    """One card session: SCardConnect (T=0 or T=1, shared) inside a transaction."""

    def __init__(self, context: int, reader: str) -> None:
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
            hresult, _, _, _, atr = scard.SCardStatus(self._card)
            _check("SCardStatus", hresult)
            self.atr = bytes(atr).hex().upper()
            # Keeps other applications from interleaving APDUs with our read sequence.
            _check("SCardBeginTransaction", scard.SCardBeginTransaction(self._card))
            self._in_transaction = True
        except PcscError:
            self.close()
            raise

    def transmit(self, command: bytes) -> bytes:
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

    Health codes: `ok`, `pcsc-unavailable` (no pcscd), `reader-missing` (no matching reader),
    `reader-error` (PC/SC answered something unexpected; retried with backoff).
    """

    kind = "card_reader"

    def __init__(self, reader_name: str | None = None, poll_timeout_s: float = 0.5) -> None:
        self.reader_name = reader_name
        self.poll_timeout_s = poll_timeout_s
        self._hub = EventHub()
        self._health = Health(HealthState.MISSING, "reader-missing", "Not started")
        self._health_published = False  # the first finding is always published
        self._health_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context_lock = threading.Lock()
        self._context: int | None = None  # the monitor's, so that stop() can cancel it
        self._reader: str | None = None  # the reader being watched, for events
        self._card: _ReaderState | None = None  # the card the events are about, if any

    # -- Device contract --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="card-reader-pcsc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ends monitoring and joins the thread: at once when it blocks in SCardGetStatusChange
        (SCardCancel) or waits to retry, otherwise once the card read in progress ends."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return  # an observer calling stop() cannot join its own thread; it ends by itself
        # SCardCancel only wakes a wait already in progress: one the thread enters just after
        # it last saw the stop flag would run its full poll timeout. So cancel until it ends.
        while thread.is_alive():
            with self._context_lock:
                if self._context is not None:
                    scard.SCardCancel(self._context)
            thread.join(STOP_CANCEL_INTERVAL_S)
        self._thread = None

    def health(self) -> Health:
        return self._health

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    @property
    def reader(self) -> str | None:
        """The full name of the reader being watched, once one matched."""
        return self._reader

    def read(self) -> CardData:
        """Read the card present now, on the caller's thread, with a PC/SC context of its own
        (the monitor's context is busy blocking in SCardGetStatusChange)."""
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult & _MASK != scard.SCARD_S_SUCCESS:
            raise CardReadError(CardFailure.READER_UNAVAILABLE, "the PC/SC service is not running")
        try:
            try:
                reader = self._find_reader(context)
                if reader is None:
                    raise CardReadError(CardFailure.READER_UNAVAILABLE, "no matching card reader")
                state = self._status(context, reader, scard.SCARD_STATE_UNAWARE, 0)
            except PcscError as exc:
                raise CardReadError(CardFailure.READER_UNAVAILABLE, str(exc)) from exc
            if state is None or not state.present:
                raise CardReadError(CardFailure.REMOVED, "no card present")
            return self._read_card(context, reader, state)
        finally:
            scard.SCardReleaseContext(context)

    # -- monitoring thread ------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = BACKOFF_INITIAL_S
        while not self._stop.is_set():
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult & _MASK != scard.SCARD_S_SUCCESS:
                self._set_health(
                    HealthState.MISSING, "pcsc-unavailable", "The PC/SC service is not running"
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_INITIAL_S
            with self._context_lock:
                self._context = context
            try:
                self._watch(context)
            except _Stopped:
                pass
            except PcscError as exc:
                if exc.code in _CONTEXT_LOST or not _service_alive():
                    log.warning("lost the PC/SC service: %s", exc)
                    self._set_health(
                        HealthState.MISSING, "pcsc-unavailable", "The PC/SC service stopped"
                    )
                else:
                    log.warning("PC/SC error: %s", exc)
                    self._set_health(HealthState.MISSING, "reader-error", str(exc))
                    self._stop.wait(READER_ERROR_RETRY_S)
            except Exception:
                log.exception("card reader monitor failed; starting over")
                self._set_health(HealthState.MISSING, "reader-error", "Internal error")
                self._stop.wait(BACKOFF_MAX_S)
            finally:
                self._end_card()
                with self._context_lock:
                    self._context = None
                scard.SCardReleaseContext(context)

    def _watch(self, context: int) -> None:
        """Find the reader, then follow it until it goes; raises PcscError when the context
        is lost and _Stopped on stop()."""
        while not self._stop.is_set():
            reader = self._find_reader(context)
            if reader is None:
                wanted = f"matching '{self.reader_name}'" if self.reader_name else "at all"
                self._set_health(
                    HealthState.MISSING, "reader-missing", f"No card reader {wanted}"
                )
                self._stop.wait(self.poll_timeout_s)
                continue
            self._reader = reader
            self._set_health(HealthState.OK, "ok", "")
            self._follow(context, reader)
        raise _Stopped

    def _follow(self, context: int, reader: str) -> None:
        current = scard.SCARD_STATE_UNAWARE
        timeout_ms = max(int(self.poll_timeout_s * 1000), 1)
        while not self._stop.is_set():
            try:
                state = self._status(context, reader, current, timeout_ms)
            except PcscError as exc:
                if exc.code in _READER_GONE:
                    log.warning("card reader %s went away", reader)
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
                self._card_inserted(context, reader, state)

    def _card_inserted(self, context: int, reader: str, state: _ReaderState) -> None:
        self._card = state
        log.info("card inserted in %s (ATR %s)", reader, state.atr)
        self._hub.publish(CardInserted(reader=reader, atr=state.atr))
        if state.mute:
            self._publish_failure(reader, CardFailure.UNRESPONSIVE, "the card gives no ATR")
            return
        try:
            data = self._read_card(context, reader, state)
        except CardReadError as exc:
            if self._stop.is_set():
                raise _Stopped from exc
            self._publish_failure(reader, exc.failure, exc.detail)
            return
        log.info(
            "card read: generation %d, %s, %d warning(s)",
            data.generation, data.protocol, len(data.warnings),
        )
        self._hub.publish(CardRead(reader=reader, data=data))

    def _publish_failure(self, reader: str, failure: CardFailure, detail: str) -> None:
        log.info("card read failed: %s (%s)", failure, detail)
        self._hub.publish(CardReadFailed(reader=reader, failure=failure, detail=detail))

    def _end_card(self) -> None:
        """CardRemoved for the card the events are about, exactly once."""
        if self._card is not None:
            self._card = None
            reader = self._reader or ""
            log.info("card removed from %s", reader)
            self._hub.publish(CardRemoved(reader=reader))

    # -- PC/SC helpers ----------------------------------------------------------------------------
    def _find_reader(self, context: int) -> str | None:
        hresult, readers = scard.SCardListReaders(context, [])
        code = hresult & _MASK
        if code in (scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_READER_UNAVAILABLE):
            return None
        _check("SCardListReaders", hresult)
        for name in readers:
            if self.reader_name is None or self.reader_name in name:
                return str(name)
        return None

    def _status(
        self, context: int, reader: str, current: int, timeout_ms: int
    ) -> _ReaderState | None:
        """SCardGetStatusChange for one reader; None on timeout or cancel."""
        hresult, states = scard.SCardGetStatusChange(context, timeout_ms, [(reader, current)])
        code = hresult & _MASK
        if code in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
            return None
        _check("SCardGetStatusChange", hresult)
        _, event_state, atr = states[0]
        return _ReaderState(event_state=event_state, atr=bytes(atr).hex().upper())

    def _read_card(self, context: int, reader: str, state: _ReaderState) -> CardData:
        """Connect, read, disconnect; every failure becomes a CardReadError."""
        started = time.perf_counter()
        try:
            connection = _Connection(context, reader)
        except PcscError as exc:
            raise self._classify(context, reader, state, exc) from exc
        try:
            try:
                data = ssc.read_card(connection, atr=connection.atr, protocol=connection.protocol)
            finally:
                connection.close()  # before _classify waits: no card handle held meanwhile
        except (PcscError, apdu.MalformedResponse) as exc:
            raise self._classify(context, reader, state, exc) from exc
        log.debug("card read took %.1f ms", (time.perf_counter() - started) * 1000)
        return data

    def _classify(
        self, context: int, reader: str, state: _ReaderState, exc: Exception
    ) -> CardReadError:
        """Why a transport failure happened. Most codes say it outright; an empty response or
        a failed transaction (what vpcd and many readers give when the card goes mid-APDU)
        is REMOVED if pcscd reports the card gone shortly after, else UNREADABLE."""
        if isinstance(exc, PcscError):
            failure = _failure_for(exc.code)
            if failure is not None:
                return CardReadError(failure, str(exc))
        failure = self._after_failure(context, reader, state)
        if failure is CardFailure.REMOVED:
            return CardReadError(failure, "the card was removed during the read")
        if failure is not None:
            return CardReadError(failure, f"the reader went away: {exc}")
        return CardReadError(CardFailure.UNREADABLE, f"the card stopped answering: {exc}")

    def _after_failure(
        self, context: int, reader: str, state: _ReaderState
    ) -> CardFailure | None:
        """Watch the reader briefly: REMOVED if the card goes (or another replaces it),
        READER_UNAVAILABLE if the reader or pcscd does, None if the card stays."""
        deadline = time.monotonic() + REMOVAL_CONFIRM_S
        current = state.current
        # stop() cuts the monitor's wait short; read() on a caller's thread is not affected.
        monitor = threading.current_thread() is self._thread
        while (remaining := deadline - time.monotonic()) > 0 and not (
            monitor and self._stop.is_set()
        ):
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

    def _set_health(self, state: HealthState, code: str, reason: str) -> None:
        with self._health_lock:
            same = self._health.state == state and self._health.code == code
            if same and self._health_published:
                return
            self._health_published = True
            self._health = Health(state, code, reason)
            health = self._health
        log.info("card reader health: %s (%s)", code, reason or state)
        self._hub.publish(HealthChanged(kind=self.kind, health=health))
