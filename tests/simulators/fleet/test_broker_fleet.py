"""The fleet simulator against a real Mosquitto: one connection per terminal, real Wills."""

from __future__ import annotations

import json
from datetime import timedelta

from fleet.protocol import Channel, Command, decode, device_topic, encode, utc_now
from simulators.fleet.broker_fleet import BrokerFleet
from simulators.stack import services
from tests.fleet.support import MqttProbe


def test_terminals_come_online_answer_commands_and_die_by_will(
    mosquitto: services.Mosquitto, probe: MqttProbe
) -> None:
    probe.subscribe("hrss/v1/dev/+/+")
    fleet = BrokerFleet(mosquitto.host, mosquitto.port, 300, loops=3, health_interval_s=60)
    fleet.start()
    try:
        assert fleet.wait(lambda c: c["online"] == 300, 60), fleet.counters
        births = probe.wait(lambda m: m.topic.endswith("/birth"), "300 births", count=300)
        assert len({b.payload["device_id"] for b in births}) == 300
        probe.wait(lambda m: m.topic.endswith("/health"), "first healths", count=300)

        command = Command(device_id="SIM-00007", id="sim-ping", name="ping",
                          expires_at=utc_now() + timedelta(seconds=30))
        probe.publish(device_topic("SIM-00007", Channel.COMMAND), encode(command))
        [result] = probe.wait(lambda m: m.topic.endswith("/cmd-result"), "the answer")
        assert result.payload["output"] == {"pong": True}

        first_seq = fleet.terminals["SIM-00042"].core.session_seq
        fleet.restart(["SIM-00042"])  # kill -9 and a new agent on the same disk
        [will] = probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00042/death", "its Will")
        assert (will.payload["session_seq"], will.payload["reason"]) == (first_seq, "will")
        rebirths = probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00042/birth",
                              "a new birth", count=2)
        assert rebirths[1].payload["session_seq"] > first_seq
    finally:
        fleet.stop()
    deaths = probe.wait(lambda m: m.topic.endswith("/death")
                        and m.payload["reason"] == "shutdown", "clean deaths", count=300)
    assert len({d.payload["device_id"] for d in deaths}) == 300
    assert all(decode(json.dumps(d.payload)) for d in deaths[:3])
