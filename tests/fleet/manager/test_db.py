from __future__ import annotations

from pathlib import Path

import pytest

from fleet.manager.db import open_database


def test_sqlite_gets_a_writer_and_a_reader_in_wal_mode(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'sub' / 'fleet.db'}")
    try:
        assert db.read is not db.write and db.dialect == "sqlite"
        with db.write.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        db.dispose()


def test_an_in_memory_registry_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        open_database("sqlite://")
