"""The simulator's mutable state, durable in SQLite under its data directory.

Submissions (with their answers, for replays), applications and testers' overrides of their
states, card status changes (and the blacklist feed made of them), PIN failures and the
ingest counters. Every change is committed before the caller answers (WAL, synchronous=NORMAL:
durable across a kill -9), so a restart with the same directory continues where it stopped.

One connection behind one lock: the simulator has one writer, and a batch is one transaction
(a savepoint per item) so that ingest is fast.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.central.applications import Application, Event

FILE_NAME = "central-sim.sqlite3"
COUNTERS = ("received", "recorded", "duplicates", "refused", "conflicts")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_key TEXT NOT NULL UNIQUE,
    body_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL,
    citizen_index INTEGER,
    submitted_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    application_no TEXT PRIMARY KEY,
    submission_key TEXT NOT NULL,
    citizen_index INTEGER NOT NULL,
    subsidy TEXT NOT NULL,
    period TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_by_citizen ON applications (citizen_index);
CREATE TABLE IF NOT EXISTS application_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    application_no TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS events_by_application ON application_events (application_no);
CREATE TABLE IF NOT EXISTS card_status (
    citizen_index INTEGER PRIMARY KEY,
    card_number TEXT NOT NULL,
    status TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS card_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    card_number TEXT NOT NULL,
    status TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pin_failures (
    citizen_index INTEGER PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Pension qualification certification (issue 7; queried by certification.py): terminals'
# public keys, bound face templates, testers' "due now" overrides, and the records.
_CERTIFICATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_keys (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS face_templates (
    citizen_index INTEGER PRIMARY KEY, identity TEXT NOT NULL, template TEXT NOT NULL,
    bound_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certification_due (
    citizen_index INTEGER PRIMARY KEY, due_on TEXT NOT NULL, set_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    certification_no TEXT NOT NULL UNIQUE,
    citizen_index INTEGER NOT NULL,
    certified_at TEXT NOT NULL,
    method TEXT NOT NULL,
    device_id TEXT NOT NULL,
    location TEXT NOT NULL,
    staff_id TEXT,
    evidence_sha256 TEXT NOT NULL,
    liveness_version TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_at TEXT NOT NULL,
    signed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certifications_by_citizen
    ON certifications (citizen_index, certified_at);
"""


_SELECT_SUBMISSIONS = (
    "SELECT seq, submission_key, body_hash, kind, device_id, citizen_index, submitted_at, "
    "received_at, outcome, answer FROM submissions"
)


class DataDirMismatch(RuntimeError):
    """The data directory belongs to a simulator with another seed or population."""


@dataclass(frozen=True)
class StoredSubmission:
    seq: int
    submission_key: str
    body_hash: str
    kind: str
    device_id: str
    citizen_index: int | None
    submitted_at: str
    received_at: str
    outcome: str  # recorded | refused
    answer: dict[str, Any]  # {"record": ...} or {"refusal": ...}


@dataclass(frozen=True)
class CardOverride:
    card_number: str
    status: str
    changed_at: dt.datetime


def _t(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Store:
    def __init__(self, data_dir: Path, *, seed: int, population: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / FILE_NAME
        self._lock = threading.RLock()
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not pysqlite's.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a process kill in WAL
        self._db.executescript(_SCHEMA + _CERTIFICATION_SCHEMA)
        with self.atomic():
            self._check_meta({"seed": str(seed), "population": str(population)})
        self._cards = {
            row[0]: CardOverride(row[1], row[2], _parse(row[3]))
            for row in self._db.execute(
                "SELECT citizen_index, card_number, status, changed_at FROM card_status")
        }
        self._advanced = {row[0] for row in self._db.execute(
            "SELECT DISTINCT application_no FROM application_events")}

    def _check_meta(self, wanted: dict[str, str]) -> None:
        have = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        for name, value in wanted.items():
            if name not in have:
                self._db.execute("INSERT INTO meta VALUES (?, ?)", (name, value))
            elif have[name] != value:
                raise DataDirMismatch(
                    f"{self.path} holds the state of a simulator with {name} {have[name]}, "
                    f"not {value}: use another --data-dir")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One write transaction, committed on leaving (the caller answers after that)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside `atomic`: one item's changes, undone alone if it fails."""
        self._db.execute("SAVEPOINT item")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO item")
            self._db.execute("RELEASE item")
            raise
        self._db.execute("RELEASE item")

    # -- submissions -----------------------------------------------------------------------
    def submission(self, key: str) -> StoredSubmission | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, submission_key, body_hash, kind, device_id, citizen_index, "
                "submitted_at, received_at, outcome, answer FROM submissions "
                "WHERE submission_key = ?", (key,)).fetchone()
        return None if row is None else StoredSubmission(*row[:9], json.loads(row[9]))

    def add_submission(self, *, key: str, body_hash: str, kind: str, device_id: str,
                       citizen_index: int | None, submitted_at: dt.datetime,
                       received_at: dt.datetime, outcome: str, answer: dict[str, Any]) -> int:
        cursor = self._db.execute(
            "INSERT INTO submissions (submission_key, body_hash, kind, device_id, citizen_index,"
            " submitted_at, received_at, outcome, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, body_hash, kind, device_id, citizen_index, _t(submitted_at), _t(received_at),
             outcome, json.dumps(answer, ensure_ascii=False)))
        return int(cursor.lastrowid or 0)

    def next_serial(self) -> int:
        """A serial for a live application number (inside `atomic`)."""
        return self.bump("application-serial", 1)

    def submissions(self, *, kind: str | None, outcome: str | None, limit: int,
                    offset: int) -> tuple[int, list[StoredSubmission]]:
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if outcome is not None:
            where.append("outcome = ?")
            args.append(outcome)
        # Only the fixed conditions above are joined; the values are bound parameters.
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(
                f"SELECT count(*) FROM submissions{clause}", args).fetchone()  # noqa: S608
            query = " ".join((_SELECT_SUBMISSIONS, clause, "ORDER BY seq LIMIT ? OFFSET ?"))
            rows = self._db.execute(query, [*args, limit, offset]).fetchall()
        return int(total[0]), [StoredSubmission(*r[:9], json.loads(r[9])) for r in rows]

    # -- counters --------------------------------------------------------------------------
    def bump(self, name: str, by: int) -> int:
        row = self._db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
            "SET value = value + excluded.value RETURNING value", (name, by)).fetchone()
        return int(row[0])

    def counters(self) -> dict[str, int]:
        with self._lock:
            have = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return {name: int(have.get(name, 0)) for name in COUNTERS}

    # -- applications ----------------------------------------------------------------------
    def add_application(self, app: Application, submission_key: str) -> None:
        self._db.execute(
            "INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?)",
            (app.application_no, submission_key, app.citizen_index, app.subsidy, app.period,
             _t(app.submitted_at), _t(app.received_at)))

    def applications(self, citizen_index: int) -> list[Application]:
        with self._lock:
            rows = self._db.execute(
                "SELECT application_no, citizen_index, subsidy, period, submitted_at, "
                "received_at FROM applications WHERE citizen_index = ?",
                (citizen_index,)).fetchall()
        return [Application(r[0], r[1], r[2], r[3], _parse(r[4]), _parse(r[5])) for r in rows]

    def application(self, application_no: str) -> Application | None:
        with self._lock:
            r = self._db.execute(
                "SELECT application_no, citizen_index, subsidy, period, submitted_at, "
                "received_at FROM applications WHERE application_no = ?",
                (application_no,)).fetchone()
        return None if r is None else Application(r[0], r[1], r[2], r[3], _parse(r[4]),
                                                  _parse(r[5]))

    def overrides(self, application_no: str) -> list[Event]:
        if application_no not in self._advanced:  # the common case, without a query
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT status, at, reason FROM application_events WHERE application_no = ? "
                "ORDER BY seq", (application_no,)).fetchall()
        return [Event(r[0], _parse(r[1]), r[2]) for r in rows]

    def add_override(self, application_no: str, event: Event) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT INTO application_events (application_no, status, at, reason) "
                "VALUES (?, ?, ?, ?)", (application_no, event.status, _t(event.at), event.reason))
        self._advanced.add(application_no)

    # -- cards -----------------------------------------------------------------------------
    def card_override(self, citizen_index: int) -> CardOverride | None:
        with self._lock:
            return self._cards.get(citizen_index)

    def overridden_indexes(self) -> list[int]:
        with self._lock:
            return list(self._cards)

    def set_card_status(self, citizen_index: int, card_number: str, status: str,
                        at: dt.datetime) -> None:
        """Inside `atomic`: the current card's new status, and an entry of the feed."""
        self._db.execute(
            "INSERT INTO card_status VALUES (?, ?, ?, ?) ON CONFLICT (citizen_index) DO UPDATE "
            "SET card_number = excluded.card_number, status = excluded.status, "
            "changed_at = excluded.changed_at", (citizen_index, card_number, status, _t(at)))
        self._db.execute(
            "INSERT INTO card_changes (card_number, status, changed_at) VALUES (?, ?, ?)",
            (card_number, status, _t(at)))
        # The mirror changes with the transaction; a rollback reloads it (see `atomic` users).
        self._cards[citizen_index] = CardOverride(card_number, status, at)

    def reload_cards(self) -> None:
        with self._lock:
            self._cards = {
                row[0]: CardOverride(row[1], row[2], _parse(row[3]))
                for row in self._db.execute(
                    "SELECT citizen_index, card_number, status, changed_at FROM card_status")
            }

    def card_changes(self, after: int, limit: int) -> list[tuple[int, str, str, dt.datetime]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, card_number, status, changed_at FROM card_changes WHERE seq > ? "
                "ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        return [(r[0], r[1], r[2], _parse(r[3])) for r in rows]

    def last_card_change(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT max(seq) FROM card_changes").fetchone()
        return int(row[0] or 0)

    # -- PIN failures ----------------------------------------------------------------------
    def pin_state(self, citizen_index: int) -> tuple[int, dt.datetime | None]:
        with self._lock:
            row = self._db.execute(
                "SELECT failures, locked_until FROM pin_failures WHERE citizen_index = ?",
                (citizen_index,)).fetchone()
        if row is None:
            return 0, None
        return int(row[0]), _parse(row[1]) if row[1] else None

    def set_pin_state(self, citizen_index: int, failures: int,
                      locked_until: dt.datetime | None) -> None:
        self._db.execute(
            "INSERT INTO pin_failures VALUES (?, ?, ?) ON CONFLICT (citizen_index) DO UPDATE "
            "SET failures = excluded.failures, locked_until = excluded.locked_until",
            (citizen_index, failures, _t(locked_until) if locked_until else None))


    # -- issue 7: certification.py's tables (_CERTIFICATION_SCHEMA), its own queries --------
    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement with bound parameters; a write belongs inside `atomic`."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()
