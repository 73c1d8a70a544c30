from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.stack import services
from tests.fleet.support import FakeKiosk, FleetStack, MqttProbe, fleet_stack
from tests.harness.stack import supervised


@pytest.fixture
def fake_kiosk() -> Iterator[FakeKiosk]:
    kiosk = FakeKiosk()
    kiosk.start()
    yield kiosk
    kiosk.stop()


@pytest.fixture
def stack(tmp_path: Path, mosquitto: services.Mosquitto) -> Iterator[FleetStack]:
    """A real fleet manager on the test's private broker; agents are started by the test."""
    with supervised(tmp_path / "fleet-logs") as sup, fleet_stack(sup, tmp_path, mosquitto) as s:
        yield s


@pytest.fixture
def probe(mosquitto: services.Mosquitto) -> Iterator[MqttProbe]:
    p = MqttProbe(mosquitto.url)
    yield p
    p.close()
