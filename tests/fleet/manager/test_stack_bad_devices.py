"""An authenticated but buggy device, against a real manager and Mosquitto: forged or
out-of-range presence and health are rejected alone, move no presence, and leave no ghosts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from fleet.protocol import Birth, Channel, Death, device_topic, encode
from simulators.stack import services
from tests.fleet.manager.support import health
from tests.fleet.support import FakeKiosk, MqttProbe, fleet_stack, wait_for
from tests.harness.stack import supervised


def _birth(device_id: str, seq: int) -> Birth:
    return Birth(device_id=device_id, session_seq=seq, app_version="1", agent_version="1",
                 site="hall", hostname="h", health_interval_s=5)


def test_forged_presence_and_health_cannot_move_a_terminal(
    tmp_path: Path, mosquitto: services.Mosquitto, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    with supervised(tmp_path / "logs") as sup, fleet_stack(
        sup, tmp_path, mosquitto, FLEET_MANAGER_OFFLINE_AFTER_S="4",
        FLEET_MANAGER_UNCONFIRMED_RETENTION_S="1",
    ) as stack:
        agent = stack.start_agent("T-0401", fake_kiosk.url)
        seq = stack.wait_device("T-0401", lambda d: d["online"] and d["health"], "online")[
            "presence"]["session_seq"]
        topic = device_topic("T-0401", Channel.DEATH)

        # A death far ahead, and one of a session that was never born: both move nothing.
        probe.publish(topic, encode(Death(device_id="T-0401", session_seq=2**52)))
        probe.publish(topic, encode(Death(device_id="T-0401", session_seq=seq + 1000)))
        # Health of a session with no birth invents none.
        probe.publish(device_topic("T-0401", Channel.HEALTH),
                      encode(health(seq + 2000, 1, device_id="T-0401")))
        wait_for(lambda: stack.health()["ingest"]["rejected"]["session-ahead"] == 1
                 and stack.health()["ingest"]["health_ignored"] >= 1,
                 "the forged messages processed", diagnostics=stack.logs)
        d = stack.device("T-0401")
        assert d is not None and d["online"] and d["presence"]["session_seq"] == seq

        # The terminal's restarts still work.
        agent.kill()
        stack.wait_device("T-0401", lambda d: not d["online"], "offline after SIGKILL")
        stack.sup.processes.remove(agent)
        stack.start_agent("T-0401", fake_kiosk.url)
        stack.wait_device("T-0401", lambda d: d["online"] and d["presence"]["session_seq"] > seq,
                          "online in its next session")

        # One out-of-range message among good ones is rejected alone.
        bad = json.loads(encode(health(seq, 1, device_id="T-0402")))
        bad["seq"] = 2**63
        probe.publish(device_topic("T-0402", Channel.HEALTH), json.dumps(bad).encode())
        huge = json.loads(encode(_birth("T-0403", seq)))
        huge["health_interval_s"] = 1e300  # once made every sweep raise
        probe.publish(device_topic("T-0403", Channel.BIRTH), json.dumps(huge).encode())
        # 200 forged terminals that never become healthy...
        for i in range(200):
            probe.publish(device_topic(f"G-{i:03d}", Channel.BIRTH),
                          encode(_birth(f"G-{i:03d}", seq)))
        wait_for(lambda: stack.health()["ingest"]["rejected"]["decode"] >= 2,
                 "the out-of-range messages rejected", diagnostics=stack.logs)
        assert stack.device("T-0402") is None and stack.device("T-0403") is None

        # ... are forgotten by the sweep, which keeps running; the real terminal stays.
        def ghosts() -> int:
            items = httpx.get(f"{stack.api}/devices", params={"limit": 1000}).json()["items"]
            return sum(1 for x in items if x["id"].startswith("G-"))

        wait_for(lambda: ghosts() == 0 or None, "the ghost terminals forgotten", timeout=30,
                 diagnostics=stack.logs)
        assert stack.device("T-0401")["online"]
