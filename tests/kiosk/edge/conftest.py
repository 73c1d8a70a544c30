"""The stub edge every kiosk edge-client test talks to (a file may override `edge`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kiosk.edge.fake_edge import FakeEdge


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    server = FakeEdge()
    yield server
    server.close()
