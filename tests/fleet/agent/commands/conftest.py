from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fleet.agent.control_stub import StubKiosk


@pytest.fixture
def kiosk() -> Iterator[StubKiosk]:
    stub = StubKiosk()
    yield stub
    stub.close()
