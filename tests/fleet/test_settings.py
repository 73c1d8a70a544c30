"""Broker settings shared by the agent and the manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet.agent.settings import AgentSettings
from fleet.manager.settings import FleetManagerSettings
from fleet.mqtt import BrokerAddress, TlsFiles


def test_both_processes_read_the_broker_the_same_way(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    agent = AgentSettings(device_id="T-1", broker_url="mqtts://b.example", tls_ca_file=ca)
    manager = FleetManagerSettings(broker_url="mqtts://b.example", tls_ca_file=ca)
    for settings in (agent, manager):
        assert settings.broker() == BrokerAddress("b.example", 8883, tls=True)
        assert settings.tls_files() == TlsFiles(ca_file=ca)
    assert FleetManagerSettings().tls_files() is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"broker_url": "http://b"}, "mqtt:// or mqtts://"),
        # Files for a plain-text URL would be ignored: refused instead.
        ({"broker_url": "mqtt://b", "tls_ca_file": "ca.pem"}, "not mqtts://"),
        ({"broker_url": "mqtts://b", "tls_cert_file": "c.pem"}, "go together"),
    ],
)
def test_inconsistent_broker_settings_are_refused(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FleetManagerSettings(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [{"health_interval_s": 0.01}, {"health_interval_s": 1e300}, {"kiosk_timeout_s": 0},
     {"connect_timeout_s": 1e9}, {"answered_commands_max": 0}],
)
def test_agent_settings_stay_within_the_protocol_and_the_deadlines(fields: dict) -> None:
    # A birth the manager would refuse (health_interval_s out of the contract's range) would keep
    # the terminal unseen; refused at start instead.
    with pytest.raises(ValidationError):
        AgentSettings(device_id="T-1", **fields)
