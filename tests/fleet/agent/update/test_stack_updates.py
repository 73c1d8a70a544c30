"""Updates through real agent processes on a real Mosquitto: commit, rollback by itself, kill -9
at every phase, the update lock, and a command that expired while the terminal was away."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from fleet.agent.update.slots import Slots
from fleet.protocol import Channel, Command, device_topic, encode, utc_now
from simulators.stack.supervisor import ManagedProcess
from tests.fleet.agent.update.conftest import Terminal
from tests.fleet.agent.update.support import CLIENT
from tests.fleet.support import FleetStack, MqttProbe, Seen
from tests.harness.waiting import wait_for


def _start(stack: FleetStack, t: Terminal, device: str, **env: str) -> ManagedProcess:
    return stack.start_agent(
        device, t.kiosk.url, health_interval_s=60,
        AGENT_INSTALL_ROOT=str(t.root), AGENT_UPDATE_REPOSITORY_URL=t.repo.url,
        AGENT_UPDATE_CLIENT=CLIENT, AGENT_RESTART_COMMAND=json.dumps([str(t.hook)]),
        AGENT_COMMIT_DEADLINE_S="4", AGENT_UPDATE_POLL_S="0.2", KIOSK_RUN_DIR=str(t.run_dir),
        **env)


def _send(probe: MqttProbe, device: str, command_id: str, name: str, args: dict[str, Any],
          expires_in_s: float = 600) -> None:
    command = Command(device_id=device, id=command_id, name=name, args=args,
                      expires_at=utc_now() + timedelta(seconds=expires_in_s))
    probe.publish(device_topic(device, Channel.COMMAND), encode(command))


def _update(version: str) -> dict[str, Any]:
    return {"target": f"kiosk/k-{version}.tar.gz", "version": version, "rollout_id": "ro-1"}


def _jobs(probe: MqttProbe, job_id: str) -> list[dict[str, Any]]:
    return [m.payload for m in probe.matching(lambda m: _is_job(m, job_id))]


def _is_job(m: Seen, job_id: str) -> bool:
    return m.topic.endswith("/job") and m.payload["job_id"] == job_id


def _final(probe: MqttProbe, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return probe.wait(lambda m: _is_job(m, job_id)
                      and m.payload["state"] in {"succeeded", "failed"},
                      f"the end of {job_id}", timeout=timeout)[0].payload


def _runnable(t: Terminal) -> str:
    """`current` points at an installed slot, whatever happened."""
    slots = Slots(t.root)
    assert slots.runnable(slots.current()), f"current -> {slots.current()} is not runnable"
    return slots.current_version() or ""


def test_a_good_release_commits(stack: FleetStack, terminal: Terminal,
                                probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/T-0201/+")
    _start(stack, terminal, "T-0201")
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    _send(probe, "T-0201", "up-1", "update", _update("1.1.0"))

    done = _final(probe, "up-1")
    assert done["state"] == "succeeded", done
    assert done["output"] == {"phase": "committed", "version": "1.1.0"}
    phases = list(dict.fromkeys(u["output"].get("phase") for u in _jobs(probe, "up-1")
                                if u["state"] == "running"))
    assert phases == [None, "download", "verify", "install", "wait-lock", "switch", "commit"]
    assert _runnable(terminal) == "1.1.0" and terminal.restarts() == ["1.1.0"]
    assert Slots(terminal.root).previous() == "a"


def test_a_bad_release_rolls_back_by_itself_and_says_why(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/T-0202/+")
    _start(stack, terminal, "T-0202")
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    _send(probe, "T-0202", "up-bad", "update", _update("1.2.0"))

    done = _final(probe, "up-bad")
    assert done["state"] == "failed"
    assert done["error"].startswith("unhealthy: card_reader does not answer")
    assert done["output"] == {"phase": "rolled-back", "reason": "unhealthy",
                              "running_version": "1.0.0"}
    assert _runnable(terminal) == "1.0.0" and terminal.restarts() == ["1.2.0", "1.0.0"]


KILLS = [  # where the agent is killed, the release, how it must end, what must run then
    ("download", "1.1.0", "succeeded", "1.1.0"),
    ("verify", "1.1.0", "succeeded", "1.1.0"),
    ("install", "1.1.0", "succeeded", "1.1.0"),
    ("install-partial", "1.1.0", "succeeded", "1.1.0"),  # a half-written slot b
    ("wait-lock", "1.1.0", "succeeded", "1.1.0"),
    ("switch", "1.1.0", "succeeded", "1.1.0"),
    ("switched", "1.1.0", "succeeded", "1.1.0"),  # current moved, kiosk not restarted
    ("commit", "1.1.0", "succeeded", "1.1.0"),
    ("commit", "1.2.0", "failed", "1.0.0"),  # never healthy: rolled back after the restart
    ("rollback", "1.2.0", "failed", "1.0.0"),
]


@pytest.mark.parametrize(("point", "version", "state", "running"), KILLS,
                         ids=[f"{p}-{v}" for p, v, _, _ in KILLS])
def test_kill_9_at_every_phase_resumes_or_rolls_back(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe, point: str, version: str,
        state: str, running: str) -> None:
    probe.subscribe("hrss/v1/dev/T-0203/+")
    agent = _start(stack, terminal, "T-0203", AGENT_UPDATE_PAUSE_AT=point)
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    _send(probe, "T-0203", "up-k", "update", _update(version))
    wait_for(lambda: f"update paused at {point}" in agent.log_tail(200),
             f"the agent paused at {point}", diagnostics=stack.logs)

    agent.kill()
    stack.sup.processes.remove(agent)
    assert _runnable(terminal) in {"1.0.0", version}
    if point == "install-partial":
        assert Slots(terminal.root).current() == "a" and not Slots(terminal.root).runnable("b")

    _start(stack, terminal, "T-0203")
    done = _final(probe, "up-k")
    assert done["state"] == state, done
    assert _runnable(terminal) == running
    if state == "succeeded":
        assert done["output"] == {"phase": "committed", "version": version}
    else:
        assert done["output"] == {"phase": "rolled-back", "reason": "unhealthy",
                                  "running_version": "1.0.0"}
    updates = [u["update"] for u in _jobs(probe, "up-k")]
    assert updates == sorted(updates)  # one job across both processes, never restarted


def test_an_update_never_starts_during_a_citizen_session(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe) -> None:
    terminal.kiosk.session_active = True
    probe.subscribe("hrss/v1/dev/T-0204/+")
    _start(stack, terminal, "T-0204")
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    _send(probe, "T-0204", "up-s", "update", _update("1.1.0"))
    probe.wait(lambda m: _is_job(m, "up-s")
               and m.payload["output"].get("waiting") == "a citizen session is open",
               "the update waiting for the lock")
    seen = terminal.kiosk.requests
    terminal.kiosk.wait_requests(seen + 10)  # ten more looks at the kiosk, all in session
    assert Slots(terminal.root).current() == "a" and terminal.restarts() == []
    assert all(u["output"].get("phase") in {None, "download", "verify", "install", "wait-lock"}
               for u in _jobs(probe, "up-s"))

    terminal.kiosk.session_active = False  # the citizen leaves
    assert _final(probe, "up-s")["state"] == "succeeded"
    assert _runnable(terminal) == "1.1.0"


def test_an_update_that_expired_while_the_terminal_was_away_never_runs(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/T-0205/+")
    agent = _start(stack, terminal, "T-0205")
    stack.wait_device("T-0205", lambda d: d["online"], "online")
    assert agent.stop() == 0
    stack.sup.processes.remove(agent)
    stack.wait_device("T-0205", lambda d: not d["online"], "offline")

    r = stack.post_command("T-0205", {"name": "update", "args": _update("1.1.0"), "ttl_s": 1},
                           "update-while-away")
    assert r.status_code == 202, r.text
    expires_at = r.json()["expires_at"]
    wait_for(lambda: utc_now().isoformat() > expires_at.replace("Z", "+00:00"),
             "the update's time to live to pass", timeout=10)

    _start(stack, terminal, "T-0205")
    probe.wait(lambda m: m.topic.endswith("/birth"), "the second birth", count=2)
    # Sent by hand after the birth: had the update been delivered and run, its job came first.
    _send(probe, "T-0205", "ping-after", "ping", {})
    probe.wait(lambda m: m.topic.endswith("/cmd-result") and m.payload["id"] == "ping-after",
               "the ping's answer")
    command_id = r.json()["id"]
    assert _jobs(probe, command_id) == []
    answers = probe.matching(lambda m: m.topic.endswith("/cmd-result")
                             and m.payload["id"] == command_id)
    assert all(a.payload["status"] == "expired" for a in answers)
    assert Slots(terminal.root).current() == "a" and terminal.restarts() == []
    assert not (stack.workdir / "agents" / "T-0205" / "update" / "update.json").exists()
