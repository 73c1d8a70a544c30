"""The receipt printer over ESC/POS: serial, a USB device file or TCP port 9100.

One thread per run does all the printer's I/O: it prints queued jobs and, while idle, asks
the printer for its status (DLE EOT 1, 2, 4) every `poll_interval_s`, which becomes health:
paper low (degraded), paper out, cover open, offline or silent (missing).

Paper out in the middle of a job (docs/printing.md): the job is sent in blocks that
end at command boundaries, and the driver asks for the paper and cover state between blocks
and after the last one. Once any byte of a job has gone out, a stop is an interruption: the
driver stops sending, holds the document (`held_job()`), publishes
`PrintFailed(held=True)` and refuses new jobs. After a refill the kiosk asks the citizen and
calls `reprint()`, which prints the job again with a 重印 (REPRINT) mark and its original job
id, or `discard()`. So a citizen who holds a second copy always holds one marked as such.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from common.clock import Deadline
from drivers.base import DeviceEvent, EventHub, Health, HealthState, HealthTracker, Observer
from drivers.base import Unsubscribe as UnsubscribeFn
from drivers.printer.compose import compose
from drivers.printer.interface import (
    KIND,
    HeldJob,
    PrintCompleted,
    PrinterHealthCode,
    PrinterUnavailable,
    PrintFailed,
    PrintFailure,
    ReceiptDocument,
)
from drivers.printer.link import Link, LinkError, link_for

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
STATUS_QUERIES = DLE_EOT + b"\x01" + DLE_EOT + b"\x02" + DLE_EOT + b"\x04"
MAX_QUEUED = 8  # a kiosk prints one citizen's receipt at a time; more is a runaway journey
SIMULATED_CONNECTION = "tcp://127.0.0.1:9100"  # simulators/printer's default


class Paper(StrEnum):
    OK = "ok"
    LOW = "low"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    """What DLE EOT 1, 2 and 4 said (Epson's real-time status bits)."""

    online: bool
    cover_open: bool
    paper: Paper
    error: bool

    @classmethod
    def decode(cls, printer: int, offline_cause: int, paper_sensor: int) -> PrinterStatus:
        paper_end = bool(offline_cause & 0x20) or (paper_sensor & 0x60) == 0x60
        paper = Paper.OUT if paper_end else (
            Paper.LOW if paper_sensor & 0x0C == 0x0C else Paper.OK)
        return cls(online=not printer & 0x08, cover_open=bool(offline_cause & 0x04),
                   paper=paper, error=bool(offline_cause & 0x40))

    def stops_printing(self) -> PrintFailure | None:
        if self.paper is Paper.OUT:
            return PrintFailure.PAPER_OUT
        if self.cover_open:
            return PrintFailure.COVER_OPEN
        if self.error:
            return PrintFailure.ERROR
        if not self.online:
            return PrintFailure.OFFLINE
        return None


class StatusError(LinkError):
    """The printer did not answer a status query, or answered no status byte."""


def _valid_status(byte: int) -> bool:
    # Every real-time status byte has bits 1 and 4 set and bits 0 and 7 clear.
    return byte & 0x93 == 0x12


@dataclass
class _Job:
    job_id: str
    document: ReceiptDocument
    reprint_of: str | None = None


class EscPosPrinter:
    """ReceiptPrinter over ESC/POS (python-escpos composes, our links carry the bytes)."""

    kind = KIND

    def __init__(
        self,
        connection: str = "/dev/usb/lp0",
        *,
        paper_width_px: int = 576,
        job_timeout_s: float = 20.0,
        status_timeout_s: float = 1.0,
        poll_interval_s: float = 2.0,
        reprint_on_refill: bool = False,
        full_gb18030: bool = False,
    ) -> None:
        if not 0 < status_timeout_s <= job_timeout_s:
            raise ValueError("status_timeout_s must be positive and within job_timeout_s")
        if paper_width_px not in (384, 512, 576, 640):
            raise ValueError("paper_width_px is 384 (58 mm), 512, 576 (80 mm) or 640")
        self.connection = connection
        self._make_link = lambda: link_for(connection)
        self._make_link()  # a malformed connection fails at set-up, not on the thread
        self.paper_width_px = paper_width_px
        self.job_timeout_s = job_timeout_s
        self.status_timeout_s = status_timeout_s
        self.poll_interval_s = poll_interval_s
        self.reprint_on_refill = reprint_on_refill
        # Many printer fonts stop at GBK; a GB18030-2005 certified one takes 4-byte characters.
        self.full_gb18030 = full_gb18030
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._run = 0  # the run whose thread may publish; bumped by stop()
        self._running = False
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._held: HeldJob | None = None
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._link: Link | None = None
        self._tracker = HealthTracker(
            KIND, self._publish_any, Health(HealthState.MISSING, PrinterHealthCode.PRINTER_MISSING,
                                            "not started"), log)

    # Device -----------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._run += 1
            run = self._run
            self._queue = queue.Queue(maxsize=MAX_QUEUED)
        self._tracker.restart()
        self._thread = threading.Thread(target=self._loop, args=(run,), daemon=True,
                                        name=f"printer-{run}")
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._run += 1  # from here on the old thread publishes nothing
            link, thread = self._link, self._thread
            jobs = self._queue
        if link is not None:
            link.abort()  # a write or status read in progress returns now
        with contextlib.suppress(queue.Full):  # the thread sees _run changed at its next turn
            jobs.put_nowait(None)
        if thread is not None:
            thread.join(timeout=0.5)  # a thread stuck in a call is abandoned (daemon)

    def health(self) -> Health:
        return self._tracker.current

    def subscribe(self, observer: Observer) -> UnsubscribeFn:
        return self._hub.subscribe(observer)

    # ReceiptPrinter ---------------------------------------------------------------------------

    def submit(self, document: ReceiptDocument) -> str:
        with self._lock:
            if self._held is not None:
                raise PrinterUnavailable(PrintFailure.PAPER_OUT, "a job is held for reprint")
            return self._enqueue(_Job("", document))

    def held_job(self) -> HeldJob | None:
        return self._held

    def reprint(self, job_id: str) -> str:
        with self._lock:
            held = self._held
            if held is None or held.job_id != job_id:
                raise KeyError(job_id)
            new_id = self._enqueue(_Job("", held.document, reprint_of=job_id))
            self._held = None
            return new_id

    def discard(self, job_id: str) -> None:
        with self._lock:
            if self._held is not None and self._held.job_id == job_id:
                log.info("printer: held job %s discarded", job_id)
                self._held = None

    def _enqueue(self, job: _Job) -> str:
        # Called with _lock held.
        if not self._running:
            raise PrinterUnavailable(PrintFailure.OFFLINE, "the printer driver is not running")
        health = self._tracker.current
        if health.state is HealthState.MISSING:
            raise PrinterUnavailable(_failure_for(health.code), health.reason)
        self._next_id += 1
        job.job_id = f"r{int(time.time() * 1000) % 10**10}-{self._next_id}"
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise PrinterUnavailable(PrintFailure.ERROR, "too many jobs queued") from None
        return job.job_id

    # The printer's thread ---------------------------------------------------------------------

    def _publish_any(self, event: DeviceEvent) -> None:
        # HealthTracker's sink: only the current run's findings reach observers.
        self._hub.publish(event)

    def _publish(self, run: int, event: DeviceEvent) -> bool:
        with self._lock:  # stop() takes the lock: once it returns, nothing is published
            if run != self._run:
                return False
            self._hub.publish(event)
            return True

    def _set_health(self, run: int, state: HealthState, code: str, reason: str) -> None:
        with self._lock:
            if run != self._run:
                return
            self._tracker.set(state, code, reason)

    def _alive(self, run: int) -> bool:
        return run == self._run

    def _loop(self, run: int) -> None:
        jobs = self._queue
        link = self._make_link()
        with self._lock:
            self._link = link
        connected = False
        try:
            while self._alive(run):
                try:
                    connected = self._poll(run, link, connected)
                except Exception:  # a bug must not kill the printer's thread silently
                    log.exception("printer: status poll failed")
                try:
                    job = jobs.get(timeout=self.poll_interval_s)
                except queue.Empty:
                    continue
                if job is None or not self._alive(run):
                    break
                connected = self._print(run, link, job, connected)
        finally:
            link.close()

    def _connect(self, link: Link, connected: bool, deadline: Deadline) -> None:
        if not connected:
            link.open(deadline)

    def _poll(self, run: int, link: Link, connected: bool) -> bool:
        deadline = Deadline(self.status_timeout_s * 3)
        try:
            self._connect(link, connected, deadline)
            status = self._status(link, deadline)
        except LinkError as exc:
            link.close()
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.PRINTER_MISSING,
                             _short(exc))
            return False
        self._report(run, status)
        held = self._held
        if self.reprint_on_refill and held is not None and status.stops_printing() is None:
            # KeyError: the kiosk decided first (reprint or discard) between the two reads.
            with contextlib.suppress(KeyError, PrinterUnavailable):
                self.reprint(held.job_id)
        return True

    def _report(self, run: int, status: PrinterStatus) -> None:
        if status.paper is Paper.OUT:
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.PAPER_OUT,
                             "out of paper")
        elif status.cover_open:
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.COVER_OPEN,
                             "the cover is open")
        elif status.error:
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.PRINTER_ERROR,
                             "the printer reports an error (cutter or head)")
        elif not status.online:
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.PRINTER_MISSING,
                             "the printer is offline")
        elif status.paper is Paper.LOW:
            self._set_health(run, HealthState.DEGRADED, PrinterHealthCode.PAPER_LOW,
                             "paper is running low")
        else:
            self._set_health(run, HealthState.OK, PrinterHealthCode.OK, "")

    def _status(self, link: Link, deadline: Deadline) -> PrinterStatus:
        """DLE EOT 1, 2 and 4 in one write; the printer answers each in real time, in order,
        so one round trip reads all three (three round trips tripled a receipt's time)."""
        link.discard_input()  # late answers of an earlier, timed-out query
        query_deadline = Deadline(min(self.status_timeout_s, deadline.remaining()))
        link.write(STATUS_QUERIES, query_deadline)
        answers: list[int] = []
        while len(answers) < 3:
            data = link.read(3 - len(answers), query_deadline)
            if not data:
                raise StatusError(f"no answer to DLE EOT within {self.status_timeout_s:g} s "
                                  f"({len(answers)} of 3: printer silent)")
            # A byte that is no status byte answers something else: skipped.
            answers.extend(b for b in data if _valid_status(b))
        return PrinterStatus.decode(*answers)

    def _print(self, run: int, link: Link, job: _Job, connected: bool) -> bool:
        deadline = Deadline(self.job_timeout_s)
        blocks = compose(job.document, width_px=self.paper_width_px, reprint_of=job.reprint_of,
                         full_gb18030=self.full_gb18030)
        sent = 0
        try:
            self._connect(link, connected, deadline)
            status = self._status(link, deadline)
            self._report(run, status)
            stop = status.stops_printing()
            if stop is not None:
                self._fail(run, job, stop, "the printer could not start the job", held=False)
                return True
            for index, block in enumerate(blocks):
                link.write(block, deadline)
                sent += len(block)
                # Ask between blocks only every few: a status round trip per line would
                # triple the time of a receipt on a 19200-baud serial printer.
                if index % 4 == 3 or index == len(blocks) - 1:
                    status = self._status(link, deadline)
                    stop = status.stops_printing()
                    if stop is not None:
                        self._report(run, status)
                        self._fail(run, job, stop,
                                   f"interrupted after {sent} of "
                                   f"{sum(map(len, blocks))} bytes", held=True)
                        return True
                if not self._alive(run):
                    return True
        except LinkError as exc:
            link.close()
            self._set_health(run, HealthState.MISSING, PrinterHealthCode.PRINTER_MISSING,
                             _short(exc))
            self._fail(run, job, PrintFailure.OFFLINE, _short(exc), held=sent > 0)
            return False
        self._report(run, status)
        self._publish(run, PrintCompleted(job_id=job.job_id, reprint_of=job.reprint_of))
        return True

    def _fail(self, run: int, job: _Job, failure: PrintFailure, detail: str, *,
              held: bool) -> None:
        if held:
            with self._lock:
                if run != self._run:
                    return
                self._held = HeldJob(job_id=job.job_id, failure=failure, at=time.time(),
                                     document=job.document)
        log.warning("printer: job %s failed: %s (%s)%s", job.job_id, failure, detail,
                    ", held for reprint" if held else "")
        self._publish(run, PrintFailed(job_id=job.job_id, failure=failure, detail=detail,
                                       held=held))
        if held:
            self._drop_queued(run)

    def _drop_queued(self, run: int) -> None:
        # Jobs behind an interrupted one would print after a half receipt without anyone
        # deciding: they fail too (not held: nothing of them printed).
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is None:
                self._queue.put_nowait(None)
                return
            self._publish(run, PrintFailed(job_id=job.job_id, failure=PrintFailure.PAPER_OUT,
                                           detail="not started: an earlier job was interrupted"))

    def __repr__(self) -> str:
        return f"EscPosPrinter({self.connection}, {self._tracker.current.code})"


def _failure_for(code: str) -> PrintFailure:
    return {
        PrinterHealthCode.PAPER_OUT: PrintFailure.PAPER_OUT,
        PrinterHealthCode.COVER_OPEN: PrintFailure.COVER_OPEN,
        PrinterHealthCode.PRINTER_ERROR: PrintFailure.ERROR,
    }.get(PrinterHealthCode(code) if code in PrinterHealthCode._value2member_map_ else
          PrinterHealthCode.PRINTER_MISSING, PrintFailure.OFFLINE)


def _short(exc: BaseException) -> str:
    return str(exc)[:160]


def simulated_printer(connection: str = SIMULATED_CONNECTION, **options: Any) -> EscPosPrinter:
    """The production driver on simulators/printer's virtual printer (TCP or its pty)."""
    return EscPosPrinter(connection, **options)
