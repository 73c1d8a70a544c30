"""The virtual receipt printer's state: paper, cover, online; the jobs it printed.

Each connection (a TCP client, the pty) has its own EscPosStream and builds rows of the job
in progress; the paper, cover and online state are the printer's, shared by all. A job runs
from ESC @ (or the first printed byte after a cut) to the cut; a new ESC @ or the client
going away ends an uncut job as incomplete.

Paper out, as a real printer with a paper-end stop: once the roll ends (`set_paper("out")`,
or `after_lines` more lines printed), everything printed is lost until paper is loaded, the
job is marked interrupted, and DLE EOT answers say so. Cover open and offline stop printing
the same way. `silent` answers no status query at all (a hung printer).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simulators.printer.stream import EscPosStream, Op

log = logging.getLogger(__name__)

PaperState = Literal["ok", "low", "out"]
MAX_JOBS = 200  # kept in memory (and on disk under out_dir); older ones are dropped


@dataclass
class Row:
    kind: Literal["text", "qr", "image", "blank"]
    text: str = ""
    align: int = 0  # 0 left, 1 centre, 2 right
    bold: bool = False
    large: bool = False
    qr_size: int = 3
    image: bytes = b""
    width: int = 0  # image bytes per row
    height: int = 0


@dataclass
class Job:
    id: int
    started_at: float
    rows: list[Row] = field(default_factory=list)
    bytes: int = 0
    cut: bool = False
    interrupted: bool = False
    ended_at: float | None = None
    unknown_commands: int = 0

    @property
    def complete(self) -> bool:
        return self.cut and not self.interrupted

    def text(self) -> str:
        from simulators.printer.render import transcript

        return transcript(self)

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id, "text": self.text(), "bytes": self.bytes, "cut": self.cut,
            "complete": self.complete, "interrupted": self.interrupted,
            "qr": [r.text for r in self.rows if r.kind == "qr"],
            "started_at": self.started_at, "ended_at": self.ended_at,
        }


class Session:
    """One client's byte stream into the printer."""

    def __init__(self, printer: VirtualPrinter, name: str) -> None:
        self.printer = printer
        self.name = name
        self.stream = EscPosStream()
        self.job: Job | None = None
        self.align = 0
        self.bold = False
        self.large = False
        self.qr_data = ""
        self.qr_size = 3
        self.pending = ""  # text of the line until its LF
        self.ended: Job | None = None  # the job the current chunk ended

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the client; returns the status answers to send back."""
        return self.printer.feed(self, data)

    def close(self) -> None:
        self.printer.end_session(self)


class VirtualPrinter:
    def __init__(self, out_dir: Path | None = None, *, width_px: int = 576) -> None:
        self.out_dir = out_dir
        self.width_px = width_px
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.paper: PaperState = "ok"
        self.lines_left: int | None = None
        self.cover_open = False
        self.online = True
        self.silent = False
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)
        self.status_queries = 0
        self._to_save: list[Job] = []
        self._save_wanted = threading.Event()
        self._closed = False
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            threading.Thread(target=self._saver, daemon=True, name="printer-sim-save").start()

    def close(self) -> None:
        self._closed = True
        self._save_wanted.set()

    def _saver(self) -> None:
        from simulators.printer.render import save

        while not self._closed:
            self._save_wanted.wait()
            self._save_wanted.clear()
            with self._lock:
                jobs, self._to_save = self._to_save, []
            for job in jobs:
                try:
                    assert self.out_dir is not None
                    save(job, self.out_dir, self.width_px)
                except Exception as exc:  # one unrenderable job must not stop the saver
                    log.warning("printer sim: job %d not saved: %s", job.id, exc)

    # Control ----------------------------------------------------------------------------------

    def set_paper(self, state: PaperState, after_lines: int | None = None) -> None:
        with self._lock:
            if after_lines is not None:
                self.paper, self.lines_left = ("ok" if state == "out" else state), after_lines
                if after_lines == 0:
                    self.paper, self.lines_left = "out", None
            else:
                self.paper, self.lines_left = state, None
            self._changed.notify_all()
        log.info("printer sim: paper %s%s", state,
                 f" after {after_lines} lines" if after_lines is not None else "")

    def set_cover(self, open_: bool) -> None:
        with self._lock:
            self.cover_open = open_
            self._changed.notify_all()

    def set_online(self, online: bool, silent: bool = False) -> None:
        with self._lock:
            self.online, self.silent = online, silent
            self._changed.notify_all()

    def status(self) -> dict[str, object]:
        with self._lock:
            return {"paper": self.paper, "lines_left": self.lines_left,
                    "cover_open": self.cover_open, "online": self.online,
                    "silent": self.silent, "jobs": len(self._jobs),
                    "status_queries": self.status_queries}

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.id == job_id), None)

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()

    def wait_jobs(self, count: int, timeout: float = 10.0, *,
                  ended: bool = True) -> list[Job]:
        """The jobs once `count` of them exist (and have ended); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                jobs = [j for j in self._jobs if j.ended_at is not None or not ended]
                if len(jobs) >= count:
                    return jobs
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"printer sim: {len(jobs)} of {count} jobs")
                self._changed.wait(remaining)

    # The byte stream --------------------------------------------------------------------------

    def session(self, name: str) -> Session:
        return Session(self, name)

    def _printing(self) -> bool:
        return self.paper != "out" and not self.cover_open and self.online and not self.silent

    def _status_byte(self, n: int) -> int | None:  # noqa: PLR0911 (one answer per n)
        if self.silent:
            return None
        paper_out = self.paper == "out"
        if n == 1:
            stopped = paper_out or self.cover_open or not self.online
            return 0x12 | (0x08 if stopped else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if paper_out else 0)
        if n == 3:
            return 0x12
        if n == 4:
            if paper_out:
                return 0x7E
            return 0x1E if self.paper == "low" else 0x12
        return None

    def feed(self, session: Session, data: bytes) -> bytes:
        answers = bytearray()
        with self._lock:
            session.ended = None
            for op in session.stream.feed(data):
                answer = self._apply(session, op)
                if answer is not None:
                    answers.append(answer)
            # The chunk's bytes go to the job it fed (or the one its cut just ended).
            job = session.job or session.ended
            if job is not None:
                job.bytes += len(data)
                job.unknown_commands = session.stream.unknown
            self._changed.notify_all()
        return bytes(answers)

    def end_session(self, session: Session) -> None:
        with self._lock:
            ops: list[Op] = []
            session.stream.flush_text(ops)
            for op in ops:
                self._apply(session, op)
            self._end_job(session)
            self._changed.notify_all()

    def _job(self, session: Session) -> Job:
        if session.job is None:
            session.job = Job(id=next(self._ids), started_at=time.time())
            self._jobs.append(session.job)
            del self._jobs[:-MAX_JOBS]
        return session.job

    def _end_job(self, session: Session, *, cut: bool = False) -> None:
        job = session.job
        if job is None:
            return
        job.cut = cut
        job.ended_at = time.time()
        session.job, session.ended = None, job
        if self.out_dir is not None:
            # Rendered on the saver's thread: a PNG takes tens of ms, and the status answer
            # after the cut must not wait for it.
            self._to_save.append(job)
            self._save_wanted.set()
        log.info("printer sim: job %d %s (%d bytes, %d rows)", job.id,
                 "complete" if job.complete else "incomplete", job.bytes, len(job.rows))

    def _row(self, session: Session, row: Row, lines: int = 1) -> None:
        job = self._job(session)
        if not self._printing():
            job.interrupted = True
            return
        job.rows.append(row)
        if self.lines_left is not None:
            self.lines_left -= lines
            if self.lines_left <= 0:
                self.paper, self.lines_left = "out", None
                job.interrupted = True  # the roll ended inside this job
                log.info("printer sim: paper ran out in job %d", job.id)

    def _apply(self, session: Session, op: Op) -> int | None:  # noqa: PLR0912 (a table)
        name = op.name
        if name == "status":
            self.status_queries += 1
            return self._status_byte(op.value)
        if name == "init":
            if session.job is not None and session.job.rows:
                self._end_job(session)
            session.align, session.bold, session.large = 0, False, False
            self._job(session)
        elif name == "text":
            self._job(session)
            session.pending += op.text  # printed when its LF comes, as a printer's line buffer
        elif name == "newline":
            text, session.pending = session.pending, ""
            row = Row("text", text=text, align=session.align, bold=session.bold,
                      large=session.large) if text else Row("blank")
            self._row(session, row, 2 if session.large else 1)
        elif name == "feed":
            for _ in range(min(op.value, 32)):
                self._row(session, Row("blank"))
        elif name == "align":
            session.align = op.value % 48 if op.value >= 48 else op.value
        elif name == "bold":
            session.bold = bool(op.value & 1)
        elif name == "mode":
            session.bold = bool(op.value & 0x08)
            session.large = bool(op.value & 0x30)
        elif name == "size":
            session.large = op.value != 0
        elif name == "qr-size":
            session.qr_size = max(1, min(op.value, 16))
        elif name == "qr-store":
            session.qr_data = op.data.decode("utf-8", errors="replace")
        elif name == "qr-print":
            self._row(session, Row("qr", text=session.qr_data, align=session.align,
                                   qr_size=session.qr_size), 8)
        elif name == "image":
            self._row(session, Row("image", image=op.data, width=op.width, height=op.height,
                                   align=session.align), max(1, op.height // 24))
        elif name == "cut":
            job = self._job(session)
            if not self._printing():
                job.interrupted = True
            self._end_job(session, cut=self._printing())
        return None
