from collections.abc import Iterator

import pytest

from common.sqlite import make_engine
from edge_server import migrate
from tests.edge_server.support import Hall, hall
from tests.harness.postgres import FreshDatabases

BACKENDS = ["sqlite", "postgresql"]


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def edge_pg_databases(postgres_url: str) -> FreshDatabases:
    """Edge databases on the session's PostgreSQL: a template migrated once, a copy per test."""
    return FreshDatabases(postgres_url, "edge", _migrate)


@pytest.fixture(params=BACKENDS)
def edge_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The edge's database on each backend it supports: "" is the default (SQLite in the hall's
    data directory), else a fresh PostgreSQL database, dropped after the test. Pass it to
    `hall(tmp_path, database_url=...)` in tests that build their own hall."""
    if request.param == "sqlite":
        yield ""
        return
    databases: FreshDatabases = request.getfixturevalue("edge_pg_databases")
    with databases.fresh() as url:
        yield url


@pytest.fixture
def h(tmp_path, edge_database_url: str) -> Iterator[Hall]:
    """An edge server wired to a central simulator, both in-process, with a fake clock; once on
    SQLite and once on PostgreSQL (test ids end in [sqlite] / [postgresql])."""
    with hall(tmp_path, database_url=edge_database_url) as instance:
        yield instance
