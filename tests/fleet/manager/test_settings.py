"""The manager's client id: stable across restarts, unique per process, safe for a broker."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from fleet.manager.settings import FleetManagerSettings


def test_the_default_client_id_is_stable_and_differs_by_port() -> None:
    a = FleetManagerSettings(port=8300)
    assert a.mqtt_client_id() == FleetManagerSettings(port=8300).mqtt_client_id()
    assert a.mqtt_client_id() != FleetManagerSettings(port=8301).mqtt_client_id()
    host = socket.gethostname()
    assert a.mqtt_client_id().startswith("fleet-manager-") and host.split(".")[0] in \
        a.mqtt_client_id()


def test_instance_and_client_id_settings() -> None:
    assert FleetManagerSettings(instance="hall 7/a").mqtt_client_id() == "fleet-manager-hall-7-a"
    assert FleetManagerSettings(client_id="mgr-1", instance="x").mqtt_client_id() == "mgr-1"
    with pytest.raises(ValidationError):
        FleetManagerSettings(client_id="")
