import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from simulators.central.api import create_app
from simulators.central.config import CentralSimConfig

API_KEY = "test-central-key"
TODAY = dt.date(2026, 11, 22)


class FakeClock:
    """UTC time that moves only when a test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC))


@pytest.fixture
def central(clock) -> Iterator[TestClient]:
    config = CentralSimConfig(seed=42, population=5000, api_key=API_KEY, today=TODAY)
    with TestClient(create_app(config, clock=clock), base_url="http://central") as client:
        yield client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
