"""Inactivity and bad input through real processes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx

from fleet.protocol import Channel, Death, device_topic, encode
from simulators.stack import services
from tests.fleet.support import FakeKiosk, FleetStack, MqttProbe, fleet_stack, wait_for
from tests.harness.stack import supervised


def test_a_frozen_terminal_times_out_and_resumes(
    tmp_path: Path, mosquitto: services.Mosquitto, fake_kiosk: FakeKiosk
) -> None:
    # SIGSTOP keeps the TCP connection open: no Will, only silence.
    with supervised(tmp_path / "logs") as sup, \
            fleet_stack(sup, tmp_path, mosquitto, FLEET_MANAGER_OFFLINE_AFTER_S="1.5") as stack:
        agent = stack.start_agent("T-0301", fake_kiosk.url)
        seq = stack.wait_device("T-0301", lambda d: d["online"], "online")["presence"][
            "session_seq"]

        os.kill(agent.pid, signal.SIGSTOP)
        try:
            d = stack.wait_device("T-0301", lambda d: not d["online"], "timed out")
            assert d["presence"]["reason"] == "timeout"
        finally:
            os.kill(agent.pid, signal.SIGCONT)

        d = stack.wait_device("T-0301", lambda d: d["online"], "back online")
        assert d["presence"]["session_seq"] == seq  # the same session resumed
        kinds = [e["kind"] for e in
                 httpx.get(f"{stack.api}/devices/T-0301/presence-events").json()]
        assert kinds[:2] == ["resumed", "timeout"]


def test_bad_payloads_are_dropped_and_counted(stack: FleetStack, probe: MqttProbe) -> None:
    topic = device_topic("T-0302", Channel.DEATH)
    probe.publish(topic, b"not json")
    probe.publish(topic, {"schema": "hrss.death/2", "device_id": "T-0302", "session_seq": 1})
    # A payload naming another device than its topic (the ACL vouches only for the topic).
    probe.publish(topic, encode(Death(device_id="T-9999", session_seq=1)))
    probe.publish("hrss/v1/dev/T-0302/reboot", json.dumps({"x": 1}).encode())

    wait_for(lambda: stack.health()["ingest"]["invalid"] == 4, "four invalid messages",
             diagnostics=stack.logs)
    assert stack.device("T-0302") is None
    assert stack.device("T-9999") is None
