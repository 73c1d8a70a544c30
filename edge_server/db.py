"""Database engine and sessions. SQLite gets WAL and a busy timeout; any other URL (e.g.
PostgreSQL) is used as given. Queries elsewhere stay portable SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine

from edge_server import models  # noqa: F401 - registers the tables on SQLModel.metadata

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


WRITE_OPTION = "edge_write"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (_sqlite_begin) instead of the driver's implicit,
    # late BEGIN: every transaction then really is one, reads included.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer (kiosks read while a session is written).
        cursor.execute("PRAGMA journal_mode=WAL")
        # Writers queue for up to 10 s instead of failing at once with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # NORMAL is durable across process crashes in WAL mode (only power loss can lose the
        # last commits), which is what a killed edge process needs.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock at BEGIN, so a transaction that reads and then writes
    # (the audit chain's head, an idempotency record) cannot lose a race half-way: writers
    # queue on busy_timeout instead of failing with SQLITE_BUSY_SNAPSHOT.
    immediate = connection.get_execution_options().get(WRITE_OPTION, True)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: a database error's message then never carries row values.
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,
        # Worker threads share the pool; each connection is used by one thread at a time.
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def create_tables(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A transaction that commits on success and rolls back on any error.

    `write=False` for pure reads: on SQLite they then do not queue behind writers.
    """
    with Session(engine, expire_on_commit=False) as session:
        session.connection(execution_options={WRITE_OPTION: write})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def run_in_transaction(
    engine: Engine, work: Callable[[Session], T], *, attempts: int = 5
) -> T:
    """Run `work` in one transaction, again (from scratch) when it loses an insert race.

    Used where a write inserts a row that a concurrent writer may insert first (a cache entry,
    the audit chain's first entry and head row): the key turns the lost race into an
    IntegrityError, and the next attempt sees the winner's row.
    """
    for attempt in range(1, attempts + 1):
        try:
            with session_scope(engine) as session:
                return work(session)
        except IntegrityError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
