"""The registry's two engines: a writer and a reader (SQLite in WAL mode for a hall, any
SQLAlchemy URL, PostgreSQL, for a province). The engines themselves come from common/sqlite.py.

Several manager processes may share one SQLite file: writers take the lock up front
(`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one failing when it
upgrades a read transaction; readers use deferred transactions so that REST reads never wait
for the ingest writer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, make_url

from common.sqlite import is_sqlite, make_engine


@dataclass(frozen=True)
class Database:
    write: Engine
    read: Engine

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    def dispose(self) -> None:
        self.write.dispose()
        if self.read is not self.write:
            self.read.dispose()


def open_database(url: str) -> Database:
    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError("the fleet registry needs a SQLite file, not an in-memory database")
        return Database(write=make_engine(url), read=make_engine(url, writer=False))
    engine = make_engine(url)
    return Database(write=engine, read=engine)
