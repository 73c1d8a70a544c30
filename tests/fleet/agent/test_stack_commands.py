"""Commands through real processes: REST → manager → MQTT → agent → result → registry."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import timedelta

import httpx

from fleet.protocol import Channel, Command, device_topic, encode, utc_now
from tests.fleet.support import FakeKiosk, FleetStack, MqttProbe, Seen, wait_for


def _online(d: dict) -> bool:
    return d["online"] and d["health"] is not None


def _answered(stack: FleetStack, command_id: str) -> dict:
    return wait_for(
        lambda: (c := stack.command(command_id))["answered_at"] and c,
        f"an answer to command {command_id}",
        diagnostics=stack.logs,
    )


def test_ping_round_trip_and_idempotency_key(stack: FleetStack, fake_kiosk: FakeKiosk) -> None:
    stack.start_agent("T-0101", fake_kiosk.url)
    stack.wait_device("T-0101", _online, "online")
    key = str(uuid.uuid4())

    first = stack.post_command("T-0101", {"name": "ping", "ttl_s": 30}, key)
    assert first.status_code == 202, first.text
    command = first.json()
    assert first.headers["Location"] == f"/api/v1/commands/{command['id']}"
    assert command["status"] in {"sent", "ok"}
    assert "Idempotent-Replayed" not in first.headers

    answered = _answered(stack, command["id"])
    assert answered["status"] == "ok"
    assert answered["output"] == {"pong": True}

    # Same key, same request: the same command, not a second one.
    again = stack.post_command("T-0101", {"name": "ping", "ttl_s": 30}, key)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == command["id"]
    assert again.json()["status"] == "ok"

    # Same key, different request: refused.
    reused = stack.post_command("T-0101", {"name": "ping", "ttl_s": 31}, key)
    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["code"] == "idempotency-key-reused"

    # A new key is a new command.
    other = stack.post_command("T-0101", {"name": "ping"}, str(uuid.uuid4()))
    assert other.status_code == 202 and other.json()["id"] != command["id"]

    missing = stack.post_command("T-0101", {"name": "ping"}, None)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency-key-required"
    unknown = stack.post_command("T-0101", {"name": "reboot-now"}, "k-1")
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown-command"
    nobody = stack.post_command("T-9999", {"name": "ping"}, "k-2")
    assert nobody.status_code == 404 and nobody.json()["code"] == "device-not-found"
    r = httpx.get(f"{stack.api}/commands/does-not-exist")
    assert r.status_code == 404 and r.json()["code"] == "command-not-found"


def test_report_health_runs_and_publishes_health(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    # A long interval: a health message now can only come from the command.
    stack.start_agent("T-0102", fake_kiosk.url, health_interval_s=60)
    before = stack.wait_device("T-0102", _online, "online")["health"]["seq"]

    r = stack.post_command("T-0102", {"name": "report-health"}, "rh-1")
    answered = _answered(stack, r.json()["id"])

    assert answered["status"] == "ok"
    assert answered["output"]["health_seq"] == before + 1
    stack.wait_device("T-0102", lambda d: d["health"]["seq"] == before + 1, "the new health")


def _command(device_id: str, command_id: str, name: str, expires_in_s: float) -> bytes:
    return encode(
        Command(
            device_id=device_id,
            id=command_id,
            name=name,
            expires_at=utc_now() + timedelta(seconds=expires_in_s),
        )
    )


def test_expired_command_is_answered_expired_and_not_run(
    stack: FleetStack, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    stack.start_agent("T-0103", fake_kiosk.url, health_interval_s=60)
    stack.wait_device("T-0103", _online, "online")
    probe.subscribe("hrss/v1/dev/T-0103/+")

    probe.publish(device_topic("T-0103", Channel.COMMAND),
                  _command("T-0103", "late-1", "report-health", expires_in_s=-5))

    [result] = probe.wait(lambda m: m.topic.endswith("/cmd-result"), "the result")
    assert result.payload["id"] == "late-1"
    assert result.payload["status"] == "expired"
    # Had it run, its health would have come first (same connection, same QoS: in order).
    assert probe.matching(lambda m: m.topic.endswith("/health")) == []


def test_redelivered_command_is_not_run_twice(
    stack: FleetStack, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    agent = stack.start_agent("T-0104", fake_kiosk.url, health_interval_s=60)
    stack.wait_device("T-0104", _online, "online")
    probe.subscribe("hrss/v1/dev/T-0104/+")
    payload = _command("T-0104", "dup-1", "report-health", expires_in_s=120)

    def results(m: Seen) -> bool:
        return m.topic.endswith("/cmd-result") and m.payload["id"] == "dup-1"

    probe.publish(device_topic("T-0104", Channel.COMMAND), payload)
    probe.publish(device_topic("T-0104", Channel.COMMAND), payload)  # QoS 1 redelivery
    first, second = probe.wait(results, "two answers", count=2)

    assert first.payload["status"] == second.payload["status"] == "ok"
    assert first.payload["output"] == second.payload["output"]
    healths = probe.matching(lambda m: m.topic.endswith("/health"))
    assert [h.payload["seq"] for h in healths] == [first.payload["output"]["health_seq"]]

    # The record survives a restart of the agent.
    assert agent.stop() == 0
    stack.sup.processes.remove(agent)
    stack.start_agent("T-0104", fake_kiosk.url, health_interval_s=60)
    probe.wait(lambda m: m.topic.endswith("/birth"), "the new birth")
    probe.publish(device_topic("T-0104", Channel.COMMAND), payload)
    third = probe.wait(results, "a third answer", count=3)[2]
    assert third.payload["output"] == first.payload["output"]
    assert len(probe.matching(lambda m: m.topic.endswith("/health"))) == 2  # 1 + the new birth's


def test_command_for_an_offline_device_goes_out_after_its_birth(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    agent = stack.start_agent("T-0105", fake_kiosk.url)
    stack.wait_device("T-0105", _online, "online")
    assert agent.stop() == 0
    stack.sup.processes.remove(agent)
    stack.wait_device("T-0105", lambda d: not d["online"], "offline")

    r = stack.post_command("T-0105", {"name": "ping", "ttl_s": 120}, "while-away")
    assert r.status_code == 202
    assert r.json()["answered_at"] is None

    stack.start_agent("T-0105", fake_kiosk.url)
    answered = _answered(stack, r.json()["id"])
    assert answered["status"] == "ok" and answered["output"] == {"pong": True}


def test_three_hundred_commands_keep_a_bounded_record_across_restarts(
    stack: FleetStack, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    probe.subscribe("hrss/v1/dev/T-0106/+")
    env = {"AGENT_ANSWERED_COMMANDS_MAX": "50"}
    state = stack.workdir / "agents" / "T-0106" / "answered-commands.json"
    for round_ in range(2):  # two agent processes on the same state directory
        agent = stack.start_agent("T-0106", fake_kiosk.url, health_interval_s=60, **env)
        probe.wait(lambda m: m.topic.endswith("/birth"), "the birth", count=round_ + 1)
        for i in range(150):
            probe.publish(device_topic("T-0106", Channel.COMMAND),
                          _command("T-0106", f"ping-{round_}-{i}", "ping", expires_in_s=600))
        probe.wait(lambda m: m.topic.endswith("/cmd-result"), "the answers",
                   count=150 * (round_ + 1), timeout=60)
        assert agent.stop() == 0
        stack.sup.processes.remove(agent)
    kept = json.loads(state.read_text())
    assert list(kept) == [f"ping-1-{i}" for i in range(100, 150)]


def test_a_job_reports_progress_and_survives_a_kill(
    stack: FleetStack, fake_kiosk: FakeKiosk, probe: MqttProbe
) -> None:
    probe.subscribe("hrss/v1/dev/T-0107/+")
    agent = stack.start_agent("T-0107", fake_kiosk.url, health_interval_s=60)
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    start = _command("T-0107", "job-1", "wait", expires_in_s=600)
    body = json.loads(start)
    body["args"] = {"seconds": 4}
    probe.publish(device_topic("T-0107", Channel.COMMAND), json.dumps(body).encode())

    def jobs(m: Seen) -> bool:
        return m.topic.endswith("/job")

    [answer] = probe.wait(lambda m: m.topic.endswith("/cmd-result"), "the answer")
    assert answer.payload["output"] == {"job_id": "job-1", "state": "queued"}
    probe.wait(lambda m: jobs(m) and m.payload["progress"] >= 0.2, "some progress")
    agent.kill()  # SIGKILL mid-job
    stack.sup.processes.remove(agent)
    before = probe.matching(jobs)[-1].payload

    stack.start_agent("T-0107", fake_kiosk.url, health_interval_s=60)
    done = probe.wait(lambda m: jobs(m) and m.payload["state"] == "succeeded", "the end",
                      timeout=30)[0].payload
    updates = [m.payload for m in probe.matching(jobs)]
    assert [u["state"] for u in updates][:2] == ["queued", "running"]
    after = updates[updates.index(before) + 1:]
    assert after[0]["update"] == before["update"]  # republished after the new birth
    assert after[0]["progress"] == before["progress"]  # resumed, not restarted from zero
    assert all(a["update"] < b["update"] for a, b in itertools.pairwise(after))
    assert done["output"] == {"waited_s": 4.0} and done["progress"] == 1.0
    # The job is answered once: a redelivered start command starts nothing new.
    probe.publish(device_topic("T-0107", Channel.COMMAND), json.dumps(body).encode())
    again = probe.wait(lambda m: m.topic.endswith("/cmd-result"), "the repeat", count=2)[1]
    assert again.payload["output"] == answer.payload["output"]
