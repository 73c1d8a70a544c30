"""What the agent keeps in its state directory across restarts and power cuts.

- `session_seq`: the last session sequence used, written (and fsynced) before each connection
  so that the next one is always higher.
- `answered-commands.json`: results of commands already answered, so a redelivered command is
  answered again from its record instead of being run twice.
- `peripherals.json`: the peripherals last reported by the kiosk, to report them as missing when
  the kiosk stops answering (also right after a restart).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.protocol.presence import next_session_seq

log = logging.getLogger(__name__)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` so that a power cut leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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


@dataclass(frozen=True)
class AnsweredCommand:
    status: str
    output: dict[str, Any]
    keep_until: float  # Unix time; after it the record may be forgotten


class AnsweredCommands:
    """Command id → the result already sent. Small (commands are rare) and pruned by age."""

    MAX_RECORDS = 1000

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "answered-commands.json"
        self._lock = threading.Lock()
        self._records: dict[str, AnsweredCommand] = self._load()

    def _load(self) -> dict[str, AnsweredCommand]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("unreadable %s; forgetting answered commands", self.path)
            return {}
        records: dict[str, AnsweredCommand] = {}
        for cid, rec in raw.items() if isinstance(raw, dict) else ():
            try:
                records[cid] = AnsweredCommand(
                    str(rec["status"]), dict(rec["output"]), float(rec["keep_until"])
                )
            except (KeyError, TypeError, ValueError):
                continue
        return records

    def get(self, command_id: str) -> AnsweredCommand | None:
        with self._lock:
            return self._records.get(command_id)

    def record(self, command_id: str, answer: AnsweredCommand, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._records[command_id] = answer
            live = {k: v for k, v in self._records.items() if v.keep_until >= now}
            if len(live) > self.MAX_RECORDS:
                newest = sorted(live.items(), key=lambda kv: kv[1].keep_until)[-self.MAX_RECORDS :]
                live = dict(newest)
            self._records = live
            text = json.dumps(
                {
                    k: {"status": v.status, "output": v.output, "keep_until": v.keep_until}
                    for k, v in live.items()
                },
                ensure_ascii=False,
            )
            try:
                write_atomically(self.path, text)
            except OSError:
                # Still answered from memory until a restart; better than no answer at all.
                log.warning("cannot save %s", self.path, exc_info=True)


class PeripheralMemory:
    """The peripherals (name → last reported state) the kiosk last told us about."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "peripherals.json"
        self._last: dict[str, dict[str, str]] = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                self._last = {str(k): dict(v) for k, v in raw.items() if isinstance(v, dict)}
        except (OSError, ValueError):
            pass

    def names(self) -> list[str]:
        return list(self._last)

    def remember(self, peripherals: dict[str, dict[str, str]]) -> None:
        if peripherals == self._last:
            return
        self._last = dict(peripherals)
        try:
            write_atomically(self.path, json.dumps(self._last, ensure_ascii=False))
        except OSError:
            log.warning("cannot save %s", self.path, exc_info=True)
