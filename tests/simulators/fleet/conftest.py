from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.stack import services
from tests.fleet.support import MqttProbe


@pytest.fixture
def probe(mosquitto: services.Mosquitto) -> Iterator[MqttProbe]:
    p = MqttProbe(mosquitto.url, client_id="sim-test-probe")
    yield p
    p.close()
