from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from fleet.manager.registry import Registry
from tests.fleet.manager.support import make_registry


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """The registry on both databases it supports: a hall's SQLite, a province's PostgreSQL."""
    where = (tmp_path / "fleet.db" if request.param == "sqlite"
             else request.getfixturevalue("postgres_db"))
    reg = make_registry(where)
    yield reg
    reg.db.dispose()


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    yield postgres_url
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
