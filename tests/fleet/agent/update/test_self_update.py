"""The agent updates itself: its restart hook stops the very agent process that runs the update,
a supervisor (systemd's Restart=always, as a shell loop) starts it again through the `current`
link, i.e. from the new slot, and the update goes on there. Real agent processes on a real
Mosquitto, with the fleet manager.

Each release carries the agent's launcher (`app/agent.sh`, which logs the slot's version and
execs `kioskctl fleet agent`), so which release started each agent process is on record. The
hook does what `systemctl restart` does to the agent's and the kiosk's units: stop the agent
(SIGTERM to the pid the supervisor wrote) and wait for it to be gone, then restart the kiosk
(the kiosk hook of support.py). It counts its own invocations.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet.agent.update.slots import Slots
from simulators.stack.supervisor import ManagedProcess
from tests.fleet.agent.update.support import CLIENT, DirectoryRepository, SlotTerminal, release
from tests.fleet.agent.update.test_stack_updates import _final, _jobs, _send, _update
from tests.fleet.support import FleetStack, MqttProbe, Seen
from tests.harness.waiting import wait_for

LAUNCHER = f"""#!/bin/sh
# This release's fleet agent, as the terminal's service starts it: through <root>/current.
slot=$(cd "$(dirname "$0")/.." && pwd -P)
echo "$(cat "$slot/VERSION")" >> "$KIOSK_RUN_DIR/agent-starts.log"
exec {sys.executable} -m kioskctl fleet agent
""".encode()

SUPERVISOR = """#!/bin/sh
# Restart=always: start the agent ($1, a path through the `current` link) and again each time
# it exits; at most 5 starts, so a crash loop ends (and fails the test). SIGTERM stops both.
run="$KIOSK_RUN_DIR"
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT
starts=0
while [ "$starts" -lt 5 ]; do
  starts=$((starts + 1))
  "$1" &
  child=$!
  echo "$child" > "$run/.agent.pid" && mv "$run/.agent.pid" "$run/agent.pid"
  wait "$child" || true
done
echo "supervisor: the agent was started $starts times; giving up" >&2
exit 1
"""

SELF_RESTART_HOOK = """#!/bin/sh
# Stop the agent (its supervisor starts it again), wait until it is gone (10 s at most: the
# agent bounds its shutdown), then restart the kiosk with the hook given as $1.
set -e
run="$KIOSK_RUN_DIR"
echo "$HRSS_VERSION" >> "$run/self-restarts.log"
pid=$(cat "$run/agent.pid")
kill -TERM "$pid"
tries=0
while kill -0 "$pid" 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -le 200 ] || { echo "agent $pid still runs after 10 s" >&2; exit 1; }
  sleep 0.05
done
exec "$1"
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@dataclass
class SelfUpdating:
    """A terminal whose every release holds the agent's launcher: 1.0.0 in slot a (current),
    1.1.0 (good) and 1.2.0 (never healthy) in the repository."""

    t: SlotTerminal
    repo: DirectoryRepository
    supervisor: Path
    hook: Path

    def starts(self) -> list[str]:
        """The version of the release that started each agent process, in order."""
        return _lines(self.t.run_dir / "agent-starts.log")

    def hook_runs(self) -> list[str]:
        return _lines(self.t.run_dir / "self-restarts.log")

    def agent_pid(self) -> int:
        return int((self.t.run_dir / "agent.pid").read_text())


@pytest.fixture
def self_updating(tmp_path: Path) -> Iterator[SelfUpdating]:
    extra = {"app/agent.sh": LAUNCHER}
    t = SlotTerminal.install(tmp_path, "1.0.0", extra=extra)
    repo = DirectoryRepository(tmp_path / "repo")
    for version, health in (("1.1.0", "ok"), ("1.2.0", "bad")):
        archive = release(tmp_path / "build" / f"{version}.tar.gz", version, health=health,
                          extra=extra)
        repo.publish(f"kiosk/k-{version}.tar.gz", archive, version)
    yield SelfUpdating(t, repo, _script(tmp_path / "supervisor.sh", SUPERVISOR),
                       _script(tmp_path / "restart-agent-and-kiosk.sh", SELF_RESTART_HOOK))
    t.kiosk.close()


def _start(stack: FleetStack, s: SelfUpdating, device: str, commit_deadline_s: float
           ) -> ManagedProcess:
    env = {**s.t.agent_env(s.repo.url, commit_deadline_s=commit_deadline_s),
           "AGENT_UPDATE_CLIENT": CLIENT,
           "AGENT_RESTART_COMMAND": json.dumps([str(s.hook), str(s.t.hook)])}
    spec = stack.agent_spec(device, s.t.kiosk.url, health_interval_s=60, **env)
    spec.argv = [str(s.supervisor), str(s.t.root / "current" / "app" / "agent.sh")]
    return stack.sup.start(spec)


def _seed_session_seq(stack: FleetStack, device: str) -> int:
    """A last session_seq five minutes ahead of the clock (the manager takes up to ten): only
    the state directory can make the next ones higher still (the clock would go back to now)."""
    state_dir = stack.workdir / "agents" / device
    state_dir.mkdir(parents=True)
    seeded = time.time_ns() // 1_000_000 + 300_000
    (state_dir / "session_seq").write_text(f"{seeded}\n")
    return seeded


def _births(probe: MqttProbe) -> list[dict[str, Any]]:
    return [m.payload for m in probe.matching(lambda m: m.topic.endswith("/birth"))]


def _finals(probe: MqttProbe, job_id: str) -> list[dict[str, Any]]:
    return [u for u in _jobs(probe, job_id) if u["state"] in {"succeeded", "failed"}]


def _is_answer(m: Seen, command_id: str) -> bool:
    return m.topic.endswith("/cmd-result") and m.payload["id"] == command_id


def _answers(probe: MqttProbe, command_id: str) -> list[dict[str, Any]]:
    return [m.payload for m in probe.matching(lambda m: _is_answer(m, command_id))]


def _answer(probe: MqttProbe, command_id: str) -> dict[str, Any]:
    """The first answer to `command_id` (waited for)."""
    return probe.wait(lambda m: _is_answer(m, command_id), f"the answer to {command_id}"
                      )[0].payload


def _presence(stack: FleetStack, device: str) -> list[tuple[str, int]]:
    """The presence events the manager accepted, oldest first, as (kind, session_seq)."""
    r = httpx.get(f"{stack.api}/devices/{device}/presence-events", timeout=5)
    r.raise_for_status()
    return [(e["kind"], e["session_seq"]) for e in reversed(r.json())]


def _since_last_birth(probe: MqttProbe, suffix: str) -> list[dict[str, Any]]:
    seen: list[Seen] = probe.matching(lambda m: True)
    last = max(i for i, m in enumerate(seen) if m.topic.endswith("/birth"))
    return [m.payload for m in seen[last + 1:] if m.topic.endswith("/" + suffix)]


def test_the_agent_updates_itself_and_keeps_its_state(
        stack: FleetStack, self_updating: SelfUpdating, probe: MqttProbe) -> None:
    device, t = "T-0601", self_updating.t
    seeded = _seed_session_seq(stack, device)
    probe.subscribe(f"hrss/v1/dev/{device}/+")
    supervisor = _start(stack, self_updating, device, commit_deadline_s=10)
    probe.wait(lambda m: m.topic.endswith("/health"), "the first health")
    first_pid = self_updating.agent_pid()
    stack.wait_device(device, lambda d: d["online"], "online")

    # State made before the update: a desired configuration and two answered commands.
    r = httpx.put(f"{stack.api}/devices/{device}/config",
                  json={"desired": {"health_interval_s": 45}}, timeout=10)
    assert r.status_code == 200, r.text
    assert _answer(probe, r.json()["command_id"])["status"] == "ok"
    _send(probe, device, "rh-1", "report-health", {})
    _send(probe, device, "rh-2", "report-health", {})
    answered = _answer(probe, "rh-2")["output"]
    assert answered == {"health_seq": _answer(probe, "rh-1")["output"]["health_seq"] + 1}

    _send(probe, device, "up-self", "update", _update("1.1.0"))
    done = _final(probe, "up-self")

    # Committed once, by the agent the new release started; the hook ran once.
    assert done["state"] == "succeeded", done
    assert done["output"] == {"phase": "committed", "version": "1.1.0"}
    assert self_updating.hook_runs() == ["1.1.0"] and t.restarts() == ["1.1.0"]
    assert self_updating.starts() == ["1.0.0", "1.1.0"]
    assert supervisor.alive() and self_updating.agent_pid() != first_pid
    assert Slots(t.root).current_version() == "1.1.0" and t.running() == "1.1.0"
    updates = [u["update"] for u in _jobs(probe, "up-self")]
    assert updates == sorted(updates)  # one job across both processes, never restarted

    # The same terminal, a higher session, the configuration it was given.
    first, second = _births(probe)
    assert seeded < first["session_seq"] < second["session_seq"]
    for key in ("device_id", "site", "hostname", "agent_version"):
        assert second[key] == first[key], key
    assert second["health_interval_s"] == 45
    assert second["config"]["revision"] == 1
    assert second["config"]["values"]["health_interval_s"] == 45
    events = wait_for(lambda: e if len(e := _presence(stack, device)) >= 3 else None,
                      "the manager's record of both sessions", diagnostics=stack.logs)
    assert events == [
        ("birth", first["session_seq"]), ("death", first["session_seq"]),
        ("birth", second["session_seq"])]

    # Commands answered before the update are answered again from their records, not run.
    _send(probe, device, "rh-2", "report-health", {})
    _send(probe, device, "up-self", "update", _update("1.1.0"))
    _send(probe, device, "ping-after", "ping", {})
    _answer(probe, "ping-after")  # same connection, in order: the two came first
    assert [a["output"] for a in _answers(probe, "rh-2")] == [answered, answered]
    assert [h["seq"] for h in _since_last_birth(probe, "health")] == [1]  # the birth's only
    again = _answers(probe, "up-self")
    assert len(again) == 2 and again[1]["output"] == again[0]["output"]
    assert len(_finals(probe, "up-self")) == 1
    assert [u["state"] for u in _jobs(probe, "up-self")].count("queued") == 1
    assert self_updating.hook_runs() == ["1.1.0"]


def test_a_bad_self_update_rolls_back_from_the_new_agent_and_says_why(
        stack: FleetStack, self_updating: SelfUpdating, probe: MqttProbe) -> None:
    device, t = "T-0602", self_updating.t
    probe.subscribe(f"hrss/v1/dev/{device}/+")
    _start(stack, self_updating, device, commit_deadline_s=4)
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")
    _send(probe, device, "up-bad", "update", _update("1.2.0"))
    done = _final(probe, "up-bad")

    # The agent 1.2.0 started saw its kiosk unhealthy, switched back and restarted (once more).
    assert done["state"] == "failed", done
    assert done["error"].startswith("unhealthy: card_reader does not answer"), done
    assert done["output"] == {"phase": "rolled-back", "reason": "unhealthy",
                              "running_version": "1.0.0"}
    assert self_updating.hook_runs() == ["1.2.0", "1.0.0"]  # once per phase: switch, rollback
    assert t.restarts() == ["1.2.0", "1.0.0"]
    assert self_updating.starts() == ["1.0.0", "1.2.0", "1.0.0"]
    assert Slots(t.root).current() == "a" and t.running() == "1.0.0"
    assert len(_finals(probe, "up-bad")) == 1
    seqs = [b["session_seq"] for b in _births(probe)]
    assert len(seqs) == 3 and seqs == sorted(set(seqs))
