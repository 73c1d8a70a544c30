"""Database sessions over an engine of `common.sqlite.make_engine` (WAL, busy timeout, BEGIN
IMMEDIATE for writers on SQLite; any other URL, e.g. PostgreSQL, as given). The schema is the
migrations' (edge_server/migrate.py). Queries elsewhere stay portable SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from common.sqlite import WRITE_OPTION
from edge_server import models  # noqa: F401 - registers the tables on SQLModel.metadata

T = TypeVar("T")


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
