from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.updates.support import Mirror, Store, served


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.create(tmp_path / "store")


@pytest.fixture
def mirror(tmp_path: Path, store: Store) -> Mirror:
    """What the server serves: the store's live state until a test forges something."""
    m = Mirror(tmp_path / "mirror")
    m.show(store.repo.directory)
    return m


@pytest.fixture
def url(mirror: Mirror) -> Iterator[str]:
    """The real artifact server (its own process) serving the mirror."""
    with served(mirror.directory) as base:
        yield base
