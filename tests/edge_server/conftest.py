from collections.abc import Iterator

import pytest

from tests.edge_server.support import Hall, hall


@pytest.fixture
def h(tmp_path) -> Iterator[Hall]:
    """An edge server wired to a central simulator, both in-process, with a fake clock."""
    with hall(tmp_path) as instance:
        yield instance
