"""What the agent keeps in its state directory across restarts and power cuts.

- `session_seq`: the last session sequence used, written (and fsynced) before each connection
  so that the next one is always higher.
- `answered-commands.json`: results of the last answered commands, so a redelivered command is
  answered again from its record instead of being run twice. Bounded by count and age.
- `jobs.json`: every job the agent holds (running ones resume after a restart). Bounded.
- `peripherals.json`: the peripherals last reported by the kiosk, to report them as missing when
  the kiosk stops answering (also right after a restart).

Every file is replaced atomically (common.files), so a power cut leaves the old or the new one.
A full disk never stops the agent: it keeps going from memory and logs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from common.files import write_atomically
from fleet.agent.records import AnsweredCommand, JobRecord
from fleet.protocol.limits import MAX_NAME_LEN, MAX_PERIPHERALS
from fleet.protocol.presence import next_session_seq

log = logging.getLogger(__name__)

R = TypeVar("R")


def _save(path: Path, document: Any) -> None:
    """Write JSON atomically; a failure is logged, not raised (see the module docstring)."""
    try:
        write_atomically(path, json.dumps(document, ensure_ascii=False))
    except OSError:
        log.warning("cannot save %s", path, exc_info=True)


def _load(path: Path, parse: Callable[[Any], R]) -> dict[str, R]:
    """A JSON object of records; unreadable files and records are skipped with a warning."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("unreadable %s; starting without it", path)
        return {}
    records: dict[str, R] = {}
    for key, value in raw.items() if isinstance(raw, dict) else ():
        try:
            records[str(key)] = parse(value)
        except (KeyError, TypeError, ValueError):
            continue
    return records


class SessionSeqStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "session_seq"
        self._last_used: int | None = None  # in case the file cannot be written

    def last(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A torn or edited file: fall back to the clock, which is at least as high in practice.
            log.warning("unreadable %s; starting from the clock", self.path)
            return None

    def next(self, now_ms: int | None = None) -> int:
        """Pick, persist and return the next session sequence."""
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        last = max((s for s in (self.last(), self._last_used) if s is not None), default=None)
        seq = self._last_used = next_session_seq(last, now_ms)
        try:
            write_atomically(self.path, f"{seq}\n")
        except OSError as exc:
            # A full disk must not keep the terminal off the fleet (that is when operators need
            # to see it); the clock keeps the sequence rising across a restart in practice.
            log.warning("cannot save %s (%s); session_seq %d rests on the clock", self.path,
                        exc, seq)
        return seq


class AnsweredCommands:
    """Command id → the result already sent: the last `MAX_RECORDS`, none past its keep_until.

    Dropping a record early is safe in practice: the manager re-sends only commands it has no
    answer for, and a command whose record has aged out has expired (answered `expired`).
    """

    MAX_RECORDS = 200

    def __init__(self, state_dir: Path, max_records: int | None = None) -> None:
        self.path = state_dir / "answered-commands.json"
        if max_records is not None:
            self.MAX_RECORDS = max_records
        self._lock = threading.Lock()
        loaded = _load(self.path, AnsweredCommand.from_json)
        self._records = dict(list(loaded.items())[-self.MAX_RECORDS :])

    def get(self, command_id: str) -> AnsweredCommand | None:
        with self._lock:
            return self._records.get(command_id)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, command_id: str, answer: AnsweredCommand, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            records = {k: v for k, v in self._records.items() if k != command_id}
            records[command_id] = answer  # insertion order = answer order
            live = [(k, v) for k, v in records.items() if v.keep_until >= now]
            self._records = dict(live[-self.MAX_RECORDS :])
            document = {k: v.to_json() for k, v in self._records.items()}
        _save(self.path, document)


class JobStore:
    """Every job the core holds, written whole after each change (a handful of jobs)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "jobs.json"

    def load(self) -> list[JobRecord]:
        return list(_load(self.path, JobRecord.from_json).values())

    def save(self, jobs: Iterable[JobRecord]) -> None:
        _save(self.path, {j.job_id: j.to_json() for j in jobs})


class PeripheralMemory:
    """The peripherals (name → last reported state) the kiosk last told us about."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "peripherals.json"
        loaded = _load(self.path, lambda v: {str(k): str(x) for k, x in dict(v).items()})
        self._last = {k[:MAX_NAME_LEN]: v for k, v in list(loaded.items())[:MAX_PERIPHERALS]}

    def names(self) -> list[str]:
        return list(self._last)

    def remember(self, peripherals: dict[str, dict[str, str]]) -> None:
        bounded = dict(list(peripherals.items())[:MAX_PERIPHERALS])
        if bounded == self._last:
            return
        self._last = bounded
        _save(self.path, self._last)
