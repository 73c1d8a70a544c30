"""SQLAlchemy engines and the UTC column type: the one home for every database we own.

SQLite (a hall, a field terminal) gets WAL, a busy timeout, foreign keys and transactions that
SQLAlchemy begins itself (`BEGIN IMMEDIATE` for writers, so a read-then-write cannot lose a race
half-way). Any other URL (PostgreSQL for a province) is used as given.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.pool import SingletonThreadPool
from sqlalchemy.types import TypeDecorator

from common.clock import Deadline

BUSY_TIMEOUT_MS = 30_000
# How long a read on an event loop may wait for SQLite (make_loop_reader).
LOOP_READ_BUSY_MS = 20
# Execution option: `False` on a connection makes its transaction a plain (deferred) BEGIN.
WRITE_OPTION = "hrss_write"
# Execution option for a connection that runs ONE read statement: no BEGIN at all (SQLite runs
# a lone statement in its own implicit transaction, a consistent snapshot), which saves a round
# trip on the hottest reads. Ignored on other databases.
SINGLE_READ_OPTION = "hrss_single_read"


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    SQLite has no time zones: values are stored naive, in UTC, and comparisons stay correct
    because every value is converted on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _use_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch the file to WAL (persistent), unless it is already.

    The switch needs an exclusive lock and SQLite does not wait for that one (no busy handler:
    it could deadlock), so a process opening the file while another holds a write transaction
    (a second edge starting during the first one's migrations) would fail at once. Skip it when
    WAL is on already; otherwise retry within the busy timeout.
    """
    deadline = Deadline(busy_timeout_ms / 1000)
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or deadline.expired:
                raise
            time.sleep(0.05)


def _connect_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself instead of pysqlite's implicit,
        # late, always-DEFERRED one: every transaction then really is one, reads included.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers never block the writer.
            _use_wal(cursor, busy_timeout_ms)
            # Writers queue instead of failing at once with "database is locked".
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            # NORMAL is durable across process crashes in WAL mode (only power loss can lose
            # the last commits), which is what a killed process needs.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return on_connect


def _primary_message_only(context: ExceptionContext) -> None:
    """PostgreSQL's DETAIL line carries row values ("Key (id)=(...) already exists"), which
    `hide_parameters` does not cover: keep the primary message only (it names the constraint),
    so that a logged database error never carries personal data."""
    original = context.original_exception
    primary = getattr(getattr(original, "diag", None), "message_primary", None)
    if not isinstance(primary, str) or not primary:
        return
    full = str(original)
    original.args = (primary,)
    # SQLAlchemy's exception has formatted the driver's message already.
    wrapper = context.sqlalchemy_exception
    if wrapper is not None and wrapper.args and isinstance(wrapper.args[0], str):
        wrapper.args = (wrapper.args[0].replace(full, primary), *wrapper.args[1:])


def make_engine(url: str, *, writer: bool = True, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                **kwargs: Any) -> Engine:
    """An engine for `url`. On SQLite, `writer=False` makes every transaction a deferred BEGIN
    (a read-only engine for REST reads that must never queue behind the writer), and
    `busy_timeout_ms` bounds every wait for SQLite's locks, connecting included.

    `hide_parameters`: a database error's message then never carries row values.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)
        event.listen(engine, "handle_error", _primary_message_only)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    file_backed = bool(parsed.database) and parsed.database != ":memory:"
    options: dict[str, Any] = {
        # As many pooled connections as a server has worker threads (anyio's default 40):
        # with SQLAlchemy's default of 5, every busier moment opened and closed overflow
        # connections, each paying the connect pragmas again.
        "pool_size": 40, "max_overflow": 10, **kwargs,
    } if file_backed and "poolclass" not in kwargs else kwargs
    engine = create_engine(
        url,
        hide_parameters=True,
        # Worker threads share the pool; each connection is used by one thread at a time.
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        **options,
    )
    event.listen(engine, "connect", _connect_pragmas(busy_timeout_ms))
    writers = _WriterTurns(engine.dialect)

    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(SINGLE_READ_OPTION):
            return
        immediate = writer and options.get(WRITE_OPTION, True)
        if not immediate:
            connection.exec_driver_sql("BEGIN")
            return
        writers.acquire(connection.connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release(connection.connection)
            raise

    event.listen(engine, "begin", _on_begin)
    return engine


def make_loop_reader(url: str) -> Engine | None:
    """A read-only engine for the few reads an event loop may run itself, without a hop to a
    worker thread; None unless `url` is an SQLite file.

    A local file read in WAL mode never waits for a writer; a network round trip (PostgreSQL)
    does not belong on the loop at all. One connection per thread that uses it (the loop's),
    so a checkout never waits either; `query_only`; and a busy timeout of a few milliseconds,
    connecting included, for the rare moments SQLite makes a reader wait (WAL recovery, an
    exclusive lock): the caller then takes its worker-thread path
    (`sqlalchemy.exc.OperationalError`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or (
            parsed.database == ":memory:"):
        return None
    engine = make_engine(url, writer=False, busy_timeout_ms=LOOP_READ_BUSY_MS,
                         poolclass=SingletonThreadPool, pool_size=4)

    def _reader_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only=ON")

    event.listen(engine, "connect", _reader_only)  # after make_engine's own pragmas
    return engine


class _WriterTurns:
    """Writers of one engine take turns on a lock in the process before `BEGIN IMMEDIATE`.

    SQLite's busy handler makes a waiting writer sleep and poll (1 ms, then longer, up to 100 ms
    a time): many threads of one server writing at once (an audit entry per request) would
    spend most of their time asleep with the database free. The lock hands the turn over at
    once. Other processes still meet SQLite's own lock and its busy timeout. The turn ends with
    the transaction (the dialect's commit or rollback, or the connection closing).
    """

    def __init__(self, dialect: Dialect) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None  # id of the DBAPI connection in its turn
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(dialect, name, self._ending(getattr(dialect, name)))

    @staticmethod
    def _key(connection: Any) -> int:
        return id(getattr(connection, "dbapi_connection", connection))

    def acquire(self, connection: Any) -> None:
        # The same wait SQLite would allow; a thread already in a write transaction that
        # starts another waits for itself, as it would on SQLite's lock.
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise sqlite3.OperationalError("database is locked (writer turn)")
        self._holder = self._key(connection)

    def release(self, connection: Any) -> None:
        if self._holder is not None and self._holder == self._key(connection):
            self._holder = None
            self._lock.release()

    def _ending(self, method: Any) -> Any:
        def end(dbapi_connection: Any) -> None:
            try:
                method(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        return end
