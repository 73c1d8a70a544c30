"""Presence through real processes: agent and manager on a private Mosquitto."""

from __future__ import annotations

from pathlib import Path

import httpx

from fleet.protocol import Death, device_topic, encode
from fleet.protocol.topics import Channel
from simulators.stack import services
from tests.fleet.support import FakeKiosk, FleetStack, MqttProbe, fleet_stack, wait_for
from tests.harness.stack import supervised


def _online(d: dict) -> bool:
    return d["online"] and d["health"] is not None


def test_birth_and_health_reach_the_registry(stack: FleetStack, fake_kiosk: FakeKiosk) -> None:
    stack.start_agent("T-0001", fake_kiosk.url)

    d = stack.wait_device("T-0001", _online, "online with health")

    assert d["site"] == "hall-7"
    assert d["app_version"] == "2.3.4"  # from the kiosk's status endpoint
    assert d["agent_version"]
    assert d["hostname"]
    assert d["health_interval_s"] == 0.5
    assert d["presence"]["last_event"] == "birth"
    health = d["health"]
    assert health["session_seq"] == d["presence"]["session_seq"]
    assert health["kiosk"] == {"reachable": True, "screen": "attract", "session_active": False,
                               "app_version": "2.3.4"}
    assert health["peripherals"]["card_reader"] == {"state": "ok", "code": "ok", "reason": ""}
    system = health["system"]
    assert 0 <= system["memory_percent"] <= 100
    assert system["uptime_s"] > 0
    listed = httpx.get(f"{stack.api}/devices", params={"online": True}).json()
    assert [x["id"] for x in listed["items"]] == ["T-0001"]


def test_kill_will_restart_and_late_will(
    stack: FleetStack, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    agent = stack.start_agent("T-0002", fake_kiosk.url)
    first = stack.wait_device("T-0002", _online, "online")
    first_seq = first["presence"]["session_seq"]

    agent.kill()  # SIGKILL: only the broker's Will can tell the manager
    d = stack.wait_device("T-0002", lambda d: not d["online"], "offline after SIGKILL")
    assert d["presence"] == {**d["presence"], "last_event": "death", "reason": "will",
                             "session_seq": first_seq}

    stack.sup.processes.remove(agent)
    stack.start_agent("T-0002", fake_kiosk.url)
    d = stack.wait_device(
        "T-0002", lambda d: d["online"] and d["presence"]["session_seq"] > first_seq,
        "online again with a higher session_seq",
    )
    second_seq = d["presence"]["session_seq"]

    # A Will from the first session, arriving late (after the new birth), changes nothing.
    ignored_before = stack.health()["ingest"]["presence_ignored"]
    probe.publish(
        device_topic("T-0002", Channel.DEATH),
        encode(Death(device_id="T-0002", session_seq=first_seq, reason="will")),
    )
    wait_for(lambda: stack.health()["ingest"]["presence_ignored"] > ignored_before,
             "the manager to process (and ignore) the late Will", diagnostics=stack.logs)
    d = stack.device("T-0002")
    assert d is not None and d["online"]
    assert d["presence"]["session_seq"] == second_seq
    assert d["presence"]["last_event"] == "birth"

    events = httpx.get(f"{stack.api}/devices/T-0002/presence-events").json()
    assert [(e["kind"], e["session_seq"]) for e in events] == [
        ("birth", second_seq), ("death", first_seq), ("birth", first_seq)
    ]


def test_sigterm_announces_shutdown(stack: FleetStack, fake_kiosk: FakeKiosk) -> None:
    agent = stack.start_agent("T-0003", fake_kiosk.url)
    seq = stack.wait_device("T-0003", _online, "online")["presence"]["session_seq"]

    assert agent.stop() == 0

    d = stack.wait_device("T-0003", lambda d: not d["online"], "offline after SIGTERM")
    assert d["presence"]["reason"] == "shutdown"
    assert d["presence"]["session_seq"] == seq


def test_agent_and_manager_reconnect_after_broker_restart(
    tmp_path: Path, fake_kiosk: FakeKiosk
) -> None:
    with supervised(tmp_path / "logs") as sup:
        broker = services.mosquitto(tmp_path / "broker")
        broker_proc = sup.start(broker.spec)
        with fleet_stack(sup, tmp_path, broker) as stack:
            stack.start_agent("T-0004", fake_kiosk.url)
            seq = stack.wait_device("T-0004", _online, "online")["presence"]["session_seq"]

            sup.restart(broker_proc)  # same port, empty broker: every session is gone

            d = stack.wait_device(
                "T-0004",
                lambda d: d["online"] and d["presence"]["session_seq"] > seq,
                "online in a new session after the broker restart",
                timeout=30,
            )
            assert d["presence"]["last_event"] == "birth"
            wait_for(lambda: stack.health()["broker"]["subscribed"], "manager resubscribed")
