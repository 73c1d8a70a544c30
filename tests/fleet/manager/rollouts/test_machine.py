"""The rollout state machine as a pure function: groups, thresholds, pause/resume/abort, retry,
force, rate and jitter — driven with plain values and a moved `now`, no database, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet.manager.rollouts import machine
from fleet.manager.rollouts.machine import (
    CommandView,
    JobView,
    RolloutState,
    RolloutView,
    TargetState,
    TargetView,
)
from fleet.manager.rollouts.spec import RolloutSpec, group_sizes, jitter_s

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def spec(**kw: Any) -> RolloutSpec:
    base: dict[str, Any] = {"name": "r", "target": "kiosk/k-1.4.0.tar.gz", "version": "1.4.0",
                            "groups": ["1", "2", "rest"], "seed": 1}
    return RolloutSpec(**{**base, **kw})


class Sim:
    """A rollout and its terminals held in memory; `tick` applies a step like the store."""

    def __init__(self, s: RolloutSpec, n: int) -> None:
        sizes = group_sizes(n, s.groups)
        self.rollout = RolloutView(id="R", spec=s, seed=s.seed or 0, state=RolloutState.RUNNING,
                                   group=0, groups=len(sizes))
        self.targets: dict[str, TargetView] = {}
        i = 0
        for g, size in enumerate(sizes):
            for p in range(size):
                d = f"T-{i}"
                self.targets[d] = TargetView(d, g, p, TargetState.PENDING, previous_version="1.3")
                i += 1
        self.sent: list[machine.Send] = []
        self._n = 0

    def apply(self, step: machine.Step) -> machine.Step:
        r = step.rollout
        self.rollout = replace(
            self.rollout, state=RolloutState(r.get("state", self.rollout.state)),
            group=r.get("group_index", self.rollout.group),
            group_started_at=r.get("group_started_at", self.rollout.group_started_at),
            finished=self.rollout.finished or "finished_at" in r)
        for d, ch in step.targets.items():
            fields = {k: v for k, v in ch.items() if k in TargetView.__dataclass_fields__}
            self.targets[d] = replace(self.targets[d], **fields)
        for s in step.sends:
            self._n += 1
            self.sent.append(s)
            cmd = CommandView("sent", T0 + timedelta(days=1))
            t = self.targets[s.device_id]
            if s.slot == "command":
                self.targets[s.device_id] = replace(t, command_id=f"c{self._n}", command=cmd)
            elif s.slot == "rollback":
                self.targets[s.device_id] = replace(t, rollback_command=cmd)
        return step

    def tick(self, now: datetime = T0) -> machine.Step:
        return self.apply(machine.step(self.rollout, list(self.targets.values()), now))

    def job(self, device: str, state: str, error: str = "") -> None:
        self.targets[device] = replace(self.targets[device], job=JobView(state, error))

    def rollback_job(self, device: str, state: str) -> None:
        self.targets[device] = replace(self.targets[device], rollback_job=JobView(state))

    def state(self, device: str) -> TargetState:
        return self.targets[device].state

    def updates(self) -> list[str]:
        return [s.device_id for s in self.sent if s.name == "update"]


def test_groups_by_count_and_percentage() -> None:
    assert group_sizes(100, ["1%", "10%", "rest"]) == [1, 10, 89]
    assert group_sizes(50, ["1%", "10%", "rest"]) == [1, 5, 44]
    assert group_sizes(5, ["10", "rest"]) == [5]
    assert group_sizes(10, ["2", "30%"]) == [2, 8]  # the remainder joins the last group
    assert group_sizes(3, ["0%", "50%"]) == [3]


def test_each_group_starts_when_the_previous_one_succeeded() -> None:
    sim = Sim(spec(), 6)  # groups 1, 2, 3
    sim.tick()
    assert sim.updates() == ["T-0"]
    assert sim.sent[0].args == {"target": "kiosk/k-1.4.0.tar.gz", "version": "1.4.0",
                                "rollout_id": "R", "force": False}
    sim.tick()
    assert sim.updates() == ["T-0"]  # nothing new while the canary runs
    sim.job("T-0", "running")
    sim.tick()
    assert sim.state("T-0") is TargetState.RUNNING
    sim.job("T-0", "succeeded")
    sim.tick()
    assert sorted(sim.updates()) == ["T-0", "T-1", "T-2"]
    for d in ("T-1", "T-2"):
        sim.job(d, "succeeded")
    sim.tick()
    assert len(sim.updates()) == 6 and sim.rollout.group == 2
    for d in ("T-3", "T-4", "T-5"):
        sim.job(d, "succeeded")
    sim.tick()
    assert sim.rollout.state is RolloutState.SUCCEEDED and sim.rollout.finished
    assert len(sim.updates()) == len(set(sim.updates())) == 6  # once each


def test_the_error_threshold_aborts_and_the_terminals_that_took_the_release_roll_back() -> None:
    sim = Sim(spec(groups=["2", "rest"], success_threshold_percent=50,
                   error_threshold_percent=50), 10)
    sim.tick()
    sim.job("T-0", "succeeded")
    sim.tick()  # 1 of 2 is enough: group 2 (8 terminals) starts
    assert sim.rollout.group == 1 and len(sim.updates()) == 10
    for d in ("T-2", "T-3"):
        sim.job(d, "succeeded")
    for d in ("T-4", "T-5", "T-6"):
        sim.job(d, "failed", "unhealthy: kiosk not healthy")
    sim.tick()
    assert sim.rollout.state is RolloutState.RUNNING  # 3 of 8 < 50 %
    sim.job("T-7", "failed", "unhealthy: kiosk not healthy")
    step = sim.tick()
    assert sim.rollout.state is RolloutState.ABORTED
    assert "error threshold: 4 of 8" in step.rollout["reason"]
    rollbacks = {s.device_id: s.args for s in sim.sent if s.name == "rollback"}
    assert rollbacks == {d: {"rollout_id": "R", "to_version": "1.3"}
                         for d in ("T-0", "T-2", "T-3")}
    cancels = sorted(s.device_id for s in sim.sent if s.name == "cancel-job")
    assert cancels == ["T-1", "T-8", "T-9"]  # still running: stopped if not switched yet
    assert not sim.rollout.finished
    sim.tick()
    assert len([s for s in sim.sent if s.name == "rollback"]) == 3  # not again
    # A cancelled one that committed anyway rolls back too.
    sim.job("T-8", "succeeded")
    sim.tick()
    assert sim.state("T-8") is TargetState.ROLLING_BACK
    for d in ("T-0", "T-2", "T-3", "T-8"):
        sim.rollback_job(d, "succeeded")
    for d in ("T-1", "T-9"):
        sim.job(d, "cancelled")
    sim.tick()
    assert sim.state("T-0") is TargetState.ROLLED_BACK and sim.rollout.finished


def test_an_error_count_threshold_lower_than_the_percentage_wins() -> None:
    sim = Sim(spec(groups=["rest"], error_threshold_percent=50, error_threshold_count=2), 10)
    sim.tick()
    sim.job("T-0", "failed")
    sim.tick()
    assert sim.rollout.state is RolloutState.RUNNING
    sim.job("T-1", "failed")
    sim.tick()
    assert sim.rollout.state is RolloutState.ABORTED


def test_a_missed_success_threshold_pauses_and_resume_accepts_the_group() -> None:
    sim = Sim(spec(groups=["4", "rest"], error_threshold_percent=100), 6)
    sim.tick()
    for d, st in (("T-0", "succeeded"), ("T-1", "succeeded"), ("T-2", "succeeded")):
        sim.job(d, st)
    sim.targets["T-3"] = replace(sim.targets["T-3"],
                                 command=CommandView("sent", T0 + timedelta(minutes=1)))
    sim.tick(T0 + timedelta(minutes=2))  # T-3 never took it: expired
    assert sim.state("T-3") is TargetState.EXPIRED
    assert sim.rollout.state is RolloutState.PAUSED
    assert len(sim.updates()) == 4
    sim.apply(machine.resume(sim.rollout, list(sim.targets.values())))
    sim.tick()
    assert sim.rollout.state is RolloutState.RUNNING and len(sim.updates()) == 6


def test_pause_stops_sending_and_resume_reschedules_from_now() -> None:
    s = spec(groups=["rest"], rate_per_minute=60)  # one a second
    sim = Sim(s, 5)
    sim.tick()
    assert sim.updates() == ["T-0"]
    sim.apply(machine.pause(sim.rollout))
    sim.tick(T0 + timedelta(seconds=10))
    assert sim.updates() == ["T-0"]
    with pytest.raises(machine.Refused):
        machine.pause(sim.rollout)
    sim.apply(machine.resume(sim.rollout, list(sim.targets.values())))
    later = T0 + timedelta(minutes=5)
    sim.tick(later)
    assert len(sim.updates()) == 2  # one slot per second again, from the resume
    sim.tick(later + timedelta(seconds=1))
    assert len(sim.updates()) == 3


def test_abort_by_an_operator_skips_the_rest() -> None:
    sim = Sim(spec(), 6)
    sim.tick()
    sim.apply(machine.abort(sim.rollout))
    sim.tick()
    assert sim.state("T-5") is TargetState.SKIPPED
    assert sim.updates() == ["T-0"]
    with pytest.raises(machine.Refused):
        machine.resume(sim.rollout, list(sim.targets.values()))


def test_retry_failed_sends_a_new_attempt_to_the_failed_only() -> None:
    sim = Sim(spec(groups=["3", "rest"], success_threshold_percent=60,
                   error_threshold_percent=100), 5)
    sim.tick()
    sim.job("T-0", "succeeded")
    sim.job("T-1", "failed", "download-failed: timeout")
    sim.job("T-2", "succeeded")
    sim.tick()
    assert sim.rollout.group == 1
    with pytest.raises(machine.Refused):
        machine.retry_failed(replace(sim.rollout, state=RolloutState.SUCCEEDED),
                             list(sim.targets.values()), T0)
    sim.apply(machine.retry_failed(sim.rollout, list(sim.targets.values()), T0))
    sim.tick()
    retried = [s for s in sim.sent if s.device_id == "T-1"]
    assert [s.key for s in retried] == ["rollout:R:0", "rollout:R:1"]
    assert sim.updates().count("T-0") == 1


def test_force_is_passed_to_the_terminal() -> None:
    sim = Sim(spec(force=True), 3)
    sim.tick()
    assert sim.sent[0].args["force"] is True


def test_the_rate_limit_spaces_sends_and_jitter_stays_within_its_bounds() -> None:
    s = spec(groups=["rest"], rate_per_minute=120, jitter_s=10)  # slots 0.5 s apart
    sim = Sim(s, 20)
    sim.tick()
    scheduled = sorted((t for t in sim.targets.values() if t.not_before),
                       key=lambda t: t.position)
    assert len(scheduled) == 20  # even the first waits for its jitter
    for slot, t in enumerate(scheduled):  # each within its own half-second slot
        assert T0 + timedelta(seconds=slot * 0.5) <= t.not_before \
            < T0 + timedelta(seconds=(slot + 1) * 0.5)
    times = [t.not_before for t in scheduled]
    for d in (f"T-{i}" for i in range(20)):
        j = jitter_s(s, 1, "R", d)
        assert 0 <= j < 0.5  # jitter is clamped to one slot, so the rate holds
    free = spec(groups=["rest"], jitter_s=10)
    values = [jitter_s(free, 1, "R", f"T-{i}") for i in range(200)]
    assert all(0 <= v < 10 for v in values) and max(values) - min(values) > 5
    assert values == [jitter_s(free, 1, "R", f"T-{i}") for i in range(200)]  # seeded
    assert values != [jitter_s(free, 2, "R", f"T-{i}") for i in range(200)]
    assert len([t for t in times if t < T0 + timedelta(seconds=2)]) <= 4 + 1
    sim.tick(T0 + timedelta(seconds=2))
    assert 3 <= len(sim.updates()) <= 4


def test_the_same_inputs_give_the_same_step() -> None:
    sim = Sim(spec(jitter_s=3), 6)
    views = list(sim.targets.values())
    assert machine.step(sim.rollout, views, T0) == machine.step(sim.rollout, views, T0)
