"""The phase machine alone, over an in-memory terminal: no files, no processes, a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fleet.agent.update.machine import Fetched, LockView, Refused, UpdateMachine
from fleet.agent.update.state import (
    Artifact,
    Kind,
    Phase,
    UpdateState,
    outcome,
    resume_action,
)

UPDATE = {"target": "kiosk/k-1.1.0.tar.gz", "version": "1.1.0"}


class Crash(Exception):
    """The agent process dies at a pause point."""


class Refusal(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the client says {reason}")
        self.reason = reason


class FakeEnv:
    max_attempts = 3
    download_tries = 3
    commit_deadline_s = 10.0
    poll_s = 1.0

    def __init__(self) -> None:
        self.slots: dict[str, str | None] = {"a": "1.0.0", "b": None}
        self.link = "a"
        self.saved: UpdateState | None = None
        self.now = 1000.0
        self.fetch_errors: list[Exception] = []
        self.healthy_at = 0.0  # the new release is healthy from this time on
        self.health_refuses = False
        self.crash_at: str | None = None
        self.restarts: list[str | None] = []
        self.discarded: list[str] = []
        self.fetches = 0

    def current(self) -> str | None:
        return self.link

    def other(self, slot: str | None) -> str:
        return "b" if slot == "a" else "a"

    def version(self, slot: str | None) -> str | None:
        return None if slot is None else self.slots[slot]

    def runnable(self, slot: str) -> bool:
        return self.slots[slot] is not None

    def install(self, slot: str, artifact: Artifact, version: str,
                halfway: Callable[[], None]) -> None:
        halfway()
        self.slots[slot] = version

    def switch(self, slot: str) -> None:
        self.link = slot

    def load(self) -> UpdateState | None:
        return self.saved

    def save(self, state: UpdateState) -> None:
        self.saved = state

    def fetcher(self) -> Callable[[str], Fetched]:
        def fetch(target: str) -> Fetched:
            self.fetches += 1
            if self.fetch_errors:
                raise self.fetch_errors.pop(0)
            return Fetched("1.1.0", Artifact(f"/downloads/{target}", "00" * 32, 10))

        return fetch

    def file_ok(self, artifact: Artifact) -> bool:
        return True

    def discard(self, artifact: Artifact) -> None:
        self.discarded.append(artifact.path)

    def lock(self, kind: Kind) -> LockView:
        return LockView(True, baseline={"peripherals": ["card_reader"]})

    def health(self, state: UpdateState) -> tuple[bool, str]:
        if self.health_refuses:
            raise Refused("install-failed", "the new slot cannot start")
        if self.now >= self.healthy_at:
            return True, ""
        return False, "card_reader does not answer"

    def restart(self) -> None:
        self.restarts.append(self.slots[self.link])

    def pause(self, point: str) -> None:
        if self.crash_at == point:
            self.crash_at = None
            raise Crash(point)

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


def run(env: FakeEnv, args: dict[str, Any] = UPDATE, name: str = "update",
        job_id: str = "j-1") -> tuple[UpdateState, list[str]]:
    phases: list[str] = []
    end = UpdateMachine(env, lambda p, out: phases.append(out["phase"])).run(job_id, name, args)
    return end, list(dict.fromkeys(phases))


def test_a_good_update_commits() -> None:
    env = FakeEnv()
    end, phases = run(env)
    assert phases == ["download", "verify", "install", "wait-lock", "switch", "commit"]
    assert (end.phase, end.running_version, env.link) == (Phase.COMMITTED, "1.1.0", "b")
    assert end.baseline == {"peripherals": ["card_reader"]}
    assert env.restarts == ["1.1.0"] and env.saved == end
    assert env.discarded == ["/downloads/kiosk/k-1.1.0.tar.gz"]


@pytest.mark.parametrize(("errors", "reason", "fetches"), [
    ([Refusal("unknown-key")], "unknown-key", 1),  # the client's refusal: no retry
    ([OSError("reset")] * 3, "download-failed", 3),  # retried, then given up
], ids=["refused", "failed"])
def test_a_refusal_before_the_switch_changes_nothing(errors: list[Exception], reason: str,
                                                     fetches: int) -> None:
    env = FakeEnv()
    env.fetch_errors = list(errors)
    end, _ = run(env)
    assert (end.phase, end.reason, end.running_version) == (Phase.REFUSED, reason, "1.0.0")
    assert outcome(end).output == {"phase": "refused", "reason": reason,
                                   "running_version": "1.0.0"}
    assert env.fetches == fetches and env.slots["b"] is None and env.restarts == []


def test_a_download_that_fails_once_is_retried() -> None:
    env = FakeEnv()
    env.fetch_errors = [OSError("reset")]
    end, _ = run(env)
    assert end.phase is Phase.COMMITTED and env.fetches == 2 and env.now > 1000.0


def test_a_refusal_after_the_switch_rolls_back() -> None:
    env = FakeEnv()
    env.health_refuses = True
    end, phases = run(env)
    assert phases[-2:] == ["commit", "rollback"]
    assert (end.phase, end.reason, end.running_version) == (Phase.ROLLED_BACK,
                                                            "install-failed", "1.0.0")
    assert env.link == "a" and env.restarts == ["1.1.0", "1.0.0"]


def test_unhealthy_until_the_deadline_rolls_back() -> None:
    env = FakeEnv()
    env.healthy_at = float("inf")
    end, _ = run(env)
    assert (end.phase, end.reason, end.detail) == (Phase.ROLLED_BACK, "unhealthy",
                                                   "card_reader does not answer")
    assert env.now >= 1000.0 + env.commit_deadline_s
    assert env.link == "a" and env.restarts == ["1.1.0", "1.0.0"]


def test_healthy_before_the_deadline_commits() -> None:
    env = FakeEnv()
    env.healthy_at = 1003.0
    end, _ = run(env)
    assert end.phase is Phase.COMMITTED and 1003.0 <= env.now < 1000.0 + env.commit_deadline_s


@pytest.mark.parametrize("phase", ["download", "verify", "install", "install-partial",
                                   "wait-lock", "switch", "switched", "commit"])
def test_a_restart_in_any_phase_resumes_as_the_table_says(phase: str) -> None:
    env = FakeEnv()
    env.crash_at = phase
    with pytest.raises(Crash):
        run(env)
    assert env.saved is not None
    expected = resume_action(env.saved, env.link).value
    end, phases = run(env)
    assert phases[0] == expected
    assert end.phase is Phase.COMMITTED and env.link == "b"
    assert env.restarts == ["1.1.0"]


def test_a_restart_after_the_hook_ran_does_not_run_it_again() -> None:
    env = FakeEnv()
    env.healthy_at = float("inf")  # still waiting for health when the agent stops

    class Stop(Exception):
        pass

    def stop_waiting(seconds: float) -> None:
        raise Stop

    env.wait = stop_waiting  # type: ignore[method-assign]
    with pytest.raises(Stop):
        run(env)
    assert env.saved is not None and env.saved.restarted and env.restarts == ["1.1.0"]
    del env.wait
    env.healthy_at = 0.0
    end, _ = run(env)
    assert end.phase is Phase.COMMITTED and env.restarts == ["1.1.0"]


def test_a_rollback_job() -> None:
    env = FakeEnv()
    run(env)
    end, _ = run(env, {"to_version": "0.5.0"}, "rollback", "r-1")
    assert (end.phase, end.reason) == (Phase.REFUSED, "no-previous-slot")
    end, phases = run(env, {"to_version": "1.0.0"}, "rollback", "r-2")
    assert phases == ["wait-lock", "switch"]
    assert outcome(end).output == {"phase": "rolled-back", "version": "1.0.0"}
    assert env.link == "a" and env.restarts == ["1.1.0", "1.0.0"]


def test_already_running_commits_at_once_unless_forced() -> None:
    env = FakeEnv()
    end, phases = run(env, {**UPDATE, "version": "1.0.0"})
    assert (end.phase, end.reason, phases, env.fetches) == (Phase.COMMITTED,
                                                            "already-running", [], 0)
    env.fetch_errors = [Refusal("not-found")]
    end, phases = run(env, {**UPDATE, "version": "1.0.0", "force": True}, job_id="j-2")
    assert phases == ["download"] and end.reason == "not-found"


def test_a_lost_jobs_update_is_finished_first_unreported() -> None:
    env = FakeEnv()
    env.crash_at = "install"
    with pytest.raises(Crash):
        run(env, job_id="lost")
    end, phases = run(env, {"to_version": "1.0.0"}, "rollback", "r-1")
    assert phases == ["wait-lock", "switch"]  # only the rollback job's own phases
    assert end.phase is Phase.ROLLED_BACK and env.link == "a"
