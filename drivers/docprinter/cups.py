"""The A4 document printer through the terminal's CUPS, over IPP (drivers/docprinter/ipp.py).

One thread per run does all the talking to cupsd. While idle it asks for the queue's state
every `poll_interval_s` (Get-Printer-Attributes) and turns printer-state and
printer-state-reasons into health: media-empty (paper out), toner-low / marker-supply-low
(degraded), paused / stopped / offline, jams and open doors. A job is submitted with Print-Job
and followed with Get-Job-Attributes until CUPS says completed (PrintCompleted) or
canceled / aborted (PrintFailed); the queue's state is refreshed meanwhile, so a printer that
runs out of paper mid-job shows as paper-out while its job waits, and the job completes by
itself if paper is loaded soon (CUPS and the printer keep the job; nothing is printed twice).
A job whose queue cannot print (paper out, stopped or disabled, offline, jammed) for
`stall_timeout_s` is canceled and fails with that reason (paper-out, offline, error): the
citizen at the kiosk is told now, and no job is left in the queue to come out later when nobody
is there to take it. A job not finished within `job_timeout_s` is canceled and fails with
`timeout`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue as queues
import threading
import time
from dataclasses import dataclass
from typing import Any

from common.clock import Deadline
from drivers.base import DeviceEvent, EventHub, Health, HealthState, HealthTracker, Observer
from drivers.base import Unsubscribe as UnsubscribeFn
from drivers.docprinter import ipp
from drivers.docprinter.interface import (
    KIND,
    DocPrinterHealthCode,
    DocPrintFailure,
    DocumentPrinterUnavailable,
    PrintCompleted,
    PrintFailed,
    check_pdf,
)

log = logging.getLogger(__name__)

MAX_QUEUED = 4
IPP_NOT_FOUND = 0x0406  # client-error-not-found: no such queue

# printer-state-reasons keywords (RFC 8011 5.4.12, PWG 5100.9), without -error/-warning/-report.
_PAPER_OUT = {"media-empty", "media-needed"}
_STOPPING = {"media-jam", "door-open", "cover-open", "input-tray-missing", "output-area-full",
             "toner-empty", "marker-supply-empty", "interlock-open"}
_OFFLINE = {"offline", "paused", "shutdown", "moving-to-paused", "stopped"}
_TONER_LOW = {"toner-low", "marker-supply-low", "developer-low"}
_PAPER_LOW = {"media-low"}
# What a job blocked by its queue's health fails with, once it is canceled (else: offline).
_STALLED = {DocPrinterHealthCode.PAPER_OUT: DocPrintFailure.PAPER_OUT,
            DocPrinterHealthCode.PRINTER_ERROR: DocPrintFailure.ERROR}


def _keyword(reason: str) -> str:
    for suffix in ("-error", "-warning", "-report"):
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


def health_from(attributes: dict[str, list[Any]]) -> tuple[HealthState, DocPrinterHealthCode, str]:
    """Health from a queue's printer-state, -reasons, -message and is-accepting-jobs."""
    reasons = {_keyword(str(r)) for r in attributes.get("printer-state-reasons", [])}
    state = attributes.get("printer-state", [ipp.PRINTER_IDLE])[0]
    message = str(attributes.get("printer-state-message", [""])[0])[:120]
    accepting = attributes.get("printer-is-accepting-jobs", [True])[0]
    missing = HealthState.MISSING
    if reasons & _PAPER_OUT:
        return missing, DocPrinterHealthCode.PAPER_OUT, message or "out of paper"
    if reasons & _STOPPING:
        found = ", ".join(sorted(reasons & _STOPPING))
        return missing, DocPrinterHealthCode.PRINTER_ERROR, message or found
    if reasons & _OFFLINE or state == ipp.PRINTER_STOPPED or accepting is False:
        return missing, DocPrinterHealthCode.OFFLINE, message or "the queue is stopped"
    if reasons & _TONER_LOW:
        return HealthState.DEGRADED, DocPrinterHealthCode.TONER_LOW, "toner is running low"
    if reasons & _PAPER_LOW:
        return HealthState.DEGRADED, DocPrinterHealthCode.PAPER_LOW, "paper is running low"
    return HealthState.OK, DocPrinterHealthCode.OK, ""


@dataclass
class _Job:
    job_id: str
    pdf: bytes
    title: str


class CupsDocumentPrinter:
    """DocumentPrinter on one CUPS queue, over IPP."""

    kind = KIND

    def __init__(
        self,
        queue: str = "A4",
        *,
        server: str = "127.0.0.1:631",
        job_timeout_s: float = 120.0,
        stall_timeout_s: float = 20.0,
        call_timeout_s: float = 5.0,
        poll_interval_s: float = 2.0,
        job_poll_s: float = 0.05,
        user: str = "kiosk",
    ) -> None:
        if not queue or len(queue) > 127 or not all(c.isalnum() or c in "-_." for c in queue):
            raise ValueError("a CUPS queue name is 1-127 letters, digits, - _ or .")
        if not 0 < call_timeout_s <= job_timeout_s:
            raise ValueError("call_timeout_s must be positive and within job_timeout_s")
        if not stall_timeout_s > 0:
            raise ValueError("stall_timeout_s must be positive")
        self.queue_name = queue
        self.server = server
        self._client = ipp.IppClient(server, queue, user=user)
        self.job_timeout_s = job_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.call_timeout_s = call_timeout_s
        self.poll_interval_s = poll_interval_s
        self.job_poll_s = job_poll_s
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._run = 0
        self._running = False
        self._jobs: queues.Queue[_Job | None] = queues.Queue(maxsize=MAX_QUEUED)
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        # The queue was idle at the last poll. CUPS keeps a backend's media-empty reason after
        # the job it stopped is canceled, until the next job's backend clears it: on an idle
        # queue, paper-out is what the last job found, and only a job can tell it is refilled.
        self._idle = False
        self._tracker = HealthTracker(
            KIND, self._hub.publish,
            Health(HealthState.MISSING, DocPrinterHealthCode.CUPS_UNAVAILABLE, "not started"),
            log)

    # Device -----------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._run += 1
            run = self._run
            self._jobs = queues.Queue(maxsize=MAX_QUEUED)
        self._tracker.restart()
        self._thread = threading.Thread(target=self._loop, args=(run,), daemon=True,
                                        name=f"docprinter-{run}")
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._run += 1  # the old thread publishes nothing from here on
            thread, jobs = self._thread, self._jobs
        with contextlib.suppress(queues.Full):  # a full queue: the thread sees _run at once
            jobs.put_nowait(None)
        if thread is not None:
            thread.join(timeout=0.5)  # one IPP call in flight is abandoned (daemon thread)

    def health(self) -> Health:
        return self._tracker.current

    def subscribe(self, observer: Observer) -> UnsubscribeFn:
        return self._hub.subscribe(observer)

    # DocumentPrinter --------------------------------------------------------------------------

    def submit_pdf(self, pdf: bytes, title: str) -> str:
        check_pdf(pdf, title)
        with self._lock:
            if not self._running:
                raise DocumentPrinterUnavailable(DocPrintFailure.OFFLINE, "driver not running")
            health = self._tracker.current
            stale_paper_out = self._idle and health.code == DocPrinterHealthCode.PAPER_OUT
            if health.state is HealthState.MISSING and not stale_paper_out:
                failure = (DocPrintFailure.PAPER_OUT
                           if health.code == DocPrinterHealthCode.PAPER_OUT
                           else DocPrintFailure.OFFLINE)
                raise DocumentPrinterUnavailable(failure, health.reason)
            job = _Job(f"a{next(self._ids)}", pdf, title)
            try:
                self._jobs.put_nowait(job)
            except queues.Full:
                raise DocumentPrinterUnavailable(DocPrintFailure.ERROR,
                                                 "too many jobs queued") from None
            return job.job_id

    # The driver's thread ----------------------------------------------------------------------

    def _alive(self, run: int) -> bool:
        return run == self._run

    def _publish(self, run: int, event: DeviceEvent) -> None:
        with self._lock:  # stop() takes the lock: once it returns, nothing is published
            if run == self._run:
                self._hub.publish(event)

    def _set_health(self, run: int, state: HealthState, code: str, reason: str) -> None:
        with self._lock:
            if run == self._run:
                self._tracker.set(state, code, reason)

    def _loop(self, run: int) -> None:
        while self._alive(run):
            self._poll(run)
            try:
                job = self._jobs.get(timeout=self.poll_interval_s)
            except queues.Empty:
                continue
            if job is None or not self._alive(run):
                return
            try:
                self._print(run, job)
            except Exception:  # a bug must not end the thread: the job fails, the loop goes on
                log.exception("docprinter: job %s failed unexpectedly", job.job_id)
                self._publish(run, PrintFailed(job_id=job.job_id, failure=DocPrintFailure.ERROR,
                                               detail="driver error"))

    def _poll(self, run: int) -> bool:
        """Refresh health; True when the queue can take a job."""
        try:
            attributes = self._client.printer_attributes(Deadline(self.call_timeout_s))
        except ipp.IppError as exc:
            if exc.status == IPP_NOT_FOUND:
                self._set_health(run, HealthState.MISSING, DocPrinterHealthCode.PRINTER_MISSING,
                                 f"CUPS has no queue {self.queue_name}")
            else:
                self._set_health(run, HealthState.MISSING, DocPrinterHealthCode.CUPS_UNAVAILABLE,
                                 str(exc)[:160])
            return False
        state, code, reason = health_from(attributes)
        with self._lock:
            if run == self._run:
                self._idle = attributes.get("printer-state", [None])[0] == ipp.PRINTER_IDLE
        self._set_health(run, state, code, reason)
        return state is not HealthState.MISSING

    def _print(self, run: int, job: _Job) -> None:
        deadline = Deadline(self.job_timeout_s)
        try:
            spooled = self._client.print_job(job.pdf, job.title,
                                             Deadline(min(self.call_timeout_s * 4,
                                                          deadline.remaining())))
        except ipp.IppError as exc:
            self._poll(run)
            self._publish(run, PrintFailed(job_id=job.job_id, failure=DocPrintFailure.OFFLINE,
                                           detail=str(exc)[:160]))
            return
        log.info("docprinter: job %s is CUPS job %d on %s", job.job_id, spooled,
                 self.queue_name)
        pace = threading.Event()  # paces the follow-up polls; never set
        polls = 0
        blocked_since: float | None = None  # the queue cannot print since (monotonic)
        while self._alive(run):
            try:
                attributes = self._client.job_attributes(
                    spooled, Deadline(min(self.call_timeout_s, deadline.remaining() or 0.01)))
            except ipp.IppError as exc:
                attributes = {}
                log.info("docprinter: job %s not followed: %s", job.job_id, exc)
            state = attributes.get("job-state", [None])[0]
            if state == ipp.JOB_COMPLETED:
                pages = attributes.get("job-impressions-completed", [None])[0]
                self._poll(run)
                self._publish(run, PrintCompleted(job_id=job.job_id, spooler_job=spooled,
                                                  pages=pages if isinstance(pages, int) and
                                                  pages > 0 else None))
                return
            if state in (ipp.JOB_CANCELED, ipp.JOB_ABORTED):
                reasons = [str(r) for r in attributes.get("job-state-reasons", [])]
                failure = (DocPrintFailure.CANCELED if state == ipp.JOB_CANCELED
                           else DocPrintFailure.ABORTED)
                self._poll(run)
                self._publish(run, PrintFailed(job_id=job.job_id, failure=failure,
                                               detail=", ".join(reasons)[:160]))
                return
            if deadline.expired:
                self._cancel(spooled)
                self._poll(run)
                self._publish(run, PrintFailed(
                    job_id=job.job_id, failure=DocPrintFailure.TIMEOUT,
                    detail=f"not printed within {self.job_timeout_s:g} s; canceled"))
                return
            polls += 1
            # The queue's state every ~0.5 s while the job waits: paper out shows at once.
            if polls % max(1, int(0.5 / self.job_poll_s)) == 0:
                if self._poll(run):
                    blocked_since = None
                elif blocked_since is None:
                    blocked_since = time.monotonic()
                elif time.monotonic() - blocked_since >= self.stall_timeout_s:
                    self._stalled(run, job, spooled)
                    return
            pace.wait(min(self.job_poll_s, deadline.remaining()))

    def _stalled(self, run: int, job: _Job, spooled: int) -> None:
        """Cancel a job its queue has not been able to print for stall_timeout_s."""
        code = str(self._tracker.current.code)
        failure = next((f for c, f in _STALLED.items() if c == code), DocPrintFailure.OFFLINE)
        self._cancel(spooled)
        log.warning("docprinter: job %s canceled: the queue could not print it for %g s (%s)",
                    job.job_id, self.stall_timeout_s, code)
        self._publish(run, PrintFailed(job_id=job.job_id, failure=failure,
                                       detail=f"{code} for {self.stall_timeout_s:g} s; canceled"))

    def _cancel(self, spooled: int) -> None:
        try:
            self._client.cancel_job(spooled, Deadline(self.call_timeout_s))
        except ipp.IppError as exc:
            log.warning("docprinter: CUPS job %d not canceled: %s", spooled, exc)

    def __repr__(self) -> str:
        return f"CupsDocumentPrinter({self.server}/{self.queue_name}, {self.health().code})"


def simulated_document_printer(queue: str = "A4", *, server: str = "127.0.0.1:8631",
                               **options: Any) -> CupsDocumentPrinter:
    """The production driver on the Stack's private cupsd (simulators/printer/cupsd.py)."""
    return CupsDocumentPrinter(queue, server=server, **options)
