"""The rollout state machine: a pure function of a rollout's stored state, its terminals'
command and job states, and `now`. No I/O, no clock, no randomness of its own (jitter is a
seeded hash), so that any manager, or the same one after kill -9, takes the same decision from
the same rows, and tests drive it with plain values.

`step` says what changes (rollout and target fields) and which commands to send; the store
(store.py) applies both in the transaction that read the state, before anything is published.

Rollout: running → succeeded | paused | aborted; paused → running | aborted.
Target: pending → scheduled → sent → running → succeeded | failed | expired;
  on abort: pending/scheduled → skipped; sent/running get `cancel-job`; succeeded (the terminal
  took the release) → rolling-back → rolled-back | rollback-failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fleet.manager.rollouts.spec import RolloutSpec, jitter_s, slot_interval_s

UPDATE = "update"
ROLLBACK = "rollback"  # contract: handled by the agent (fleet.protocol KnownCommand, helper "ab")
CANCEL_JOB = "cancel-job"


class RolloutState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    ABORTED = "aborted"
    SUCCEEDED = "succeeded"


class TargetState(StrEnum):
    PENDING = "pending"  # its group has not started
    SCHEDULED = "scheduled"  # goes out at not_before (rate limit + jitter)
    SENT = "sent"  # the update command is stored (and published)
    RUNNING = "running"  # the terminal's job reports
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # the command's TTL passed and the terminal never took it
    SKIPPED = "skipped"  # the rollout was aborted before it was sent
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"


IN_FLIGHT = frozenset({TargetState.SENT, TargetState.RUNNING, TargetState.ROLLING_BACK})
#: Done with this group's decision (success counting and "group complete").
DECIDED = frozenset({TargetState.SUCCEEDED, TargetState.FAILED, TargetState.EXPIRED,
                     TargetState.SKIPPED, TargetState.ROLLING_BACK, TargetState.ROLLED_BACK,
                     TargetState.ROLLBACK_FAILED})
#: Retried by "retry failed".
RETRYABLE = frozenset({TargetState.FAILED, TargetState.EXPIRED})
_REFUSED_RESULTS = frozenset({"error", "rejected", "unknown-command", "expired"})


class Refused(Exception):
    """An operator action that does not apply in the rollout's state (HTTP 409)."""


@dataclass(frozen=True)
class CommandView:
    status: str  # pending, sent, timed-out, or the agent's result status
    expires_at: datetime


@dataclass(frozen=True)
class JobView:
    state: str  # queued, running, succeeded, failed, cancelled
    error: str = ""
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetView:
    device_id: str
    group: int
    position: int
    state: TargetState
    previous_version: str | None = None
    not_before: datetime | None = None
    attempt: int = 0
    command_id: str | None = None  # of the update; the update's job has the same id
    command: CommandView | None = None
    job: JobView | None = None
    rollback_command: CommandView | None = None
    rollback_job: JobView | None = None
    cancel_sent: bool = False


@dataclass(frozen=True)
class RolloutView:
    id: str
    spec: RolloutSpec
    seed: int
    state: RolloutState
    group: int
    groups: int
    group_started_at: datetime | None = None
    finished: bool = False


@dataclass(frozen=True)
class Send:
    """A command to store and publish; `key` makes it once per (terminal, key)."""

    device_id: str
    name: str
    args: dict[str, Any]
    key: str
    ttl_s: int
    slot: str  # the target column that records the command id: command, rollback, cancel


@dataclass
class Step:
    rollout: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    sends: list[Send] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rollout or self.targets or self.sends)


class _Work:
    """The step under construction: the current view of every target, and the changes."""

    def __init__(self, rollout: RolloutView, targets: Sequence[TargetView]) -> None:
        self.r = rollout
        self.state = rollout.state
        self.group = rollout.group
        self.group_started_at = rollout.group_started_at
        self.targets = {t.device_id: t for t in targets}
        self.step = Step()

    def set(self, t: TargetView, **changes: Any) -> TargetView:
        self.step.targets.setdefault(t.device_id, {}).update(changes)
        fields = {k: v for k, v in changes.items() if k in TargetView.__dataclass_fields__}
        new = TargetView(**{**t.__dict__, **fields})
        self.targets[t.device_id] = new
        return new

    def set_rollout(self, **changes: Any) -> None:
        self.step.rollout.update(changes)
        self.state = changes.get("state", self.state)
        self.group = changes.get("group_index", self.group)
        self.group_started_at = changes.get("group_started_at", self.group_started_at)

    def in_group(self, g: int) -> list[TargetView]:
        return sorted((t for t in self.targets.values() if t.group == g),
                      key=lambda t: t.position)


# -- thresholds -----------------------------------------------------------------------------


def errors_allowed(spec: RolloutSpec, size: int) -> int:
    """Failures in one group that abort the rollout: the percentage of the group (at least one
    terminal), or the count if that is lower."""
    limit = max(1, math.ceil(size * spec.error_threshold_percent / 100 - 1e-9))
    if spec.error_threshold_count is not None:
        limit = min(limit, spec.error_threshold_count)
    return limit


def successes_needed(spec: RolloutSpec, size: int) -> int:
    return math.ceil(size * spec.success_threshold_percent / 100 - 1e-9)


# -- observing terminals --------------------------------------------------------------------


def _observe(w: _Work, t: TargetView, now: datetime) -> None:
    if t.state in (TargetState.SENT, TargetState.RUNNING):
        _observe_update(w, t, now)
    elif t.state is TargetState.ROLLING_BACK:
        _observe_rollback(w, t, now)


def _observe_update(w: _Work, t: TargetView, now: datetime) -> None:
    job = t.job
    if job is not None and job.state == "succeeded":
        w.set(t, state=TargetState.SUCCEEDED, error=None)
    elif job is not None and job.state in ("failed", "cancelled"):
        w.set(t, state=TargetState.FAILED, error=(job.error or job.state)[:512])
    elif job is not None:
        if t.state is not TargetState.RUNNING:
            w.set(t, state=TargetState.RUNNING)
    elif t.command is not None and t.command.status in _REFUSED_RESULTS:
        if t.command.status == "expired":
            w.set(t, state=TargetState.EXPIRED, error="expired before the terminal ran it")
        else:
            w.set(t, state=TargetState.FAILED, error=f"command {t.command.status}")
    elif t.command is not None and t.command.status != "ok" and now > t.command.expires_at:
        # Never taken (offline past the TTL): an expired command never goes out later.
        w.set(t, state=TargetState.EXPIRED, error="not delivered within its TTL")


def _observe_rollback(w: _Work, t: TargetView, now: datetime) -> None:
    job, cmd = t.rollback_job, t.rollback_command
    if job is not None and job.state == "succeeded":
        w.set(t, state=TargetState.ROLLED_BACK, error=None)
    elif job is not None and job.state in ("failed", "cancelled"):
        w.set(t, state=TargetState.ROLLBACK_FAILED, error=(job.error or job.state)[:512])
    elif job is None and cmd is not None and (
        cmd.status in _REFUSED_RESULTS or (cmd.status != "ok" and now > cmd.expires_at)
    ):
        w.set(t, state=TargetState.ROLLBACK_FAILED, error=f"rollback command {cmd.status}")


# -- the step -------------------------------------------------------------------------------


def _schedule(w: _Work, group: int, now: datetime) -> None:
    """Give the waiting terminals of `group` their send times: one rate slot each, in the
    group's (seeded) order, plus each terminal's jitter."""
    spec, interval = w.r.spec, slot_interval_s(w.r.spec)
    waiting = [t for t in w.in_group(group)
               if t.state in (TargetState.PENDING, TargetState.SCHEDULED)]
    for slot, t in enumerate(waiting):
        delay = slot * interval + jitter_s(spec, w.r.seed, w.r.id, t.device_id)
        w.set(t, state=TargetState.SCHEDULED, not_before=now + timedelta(seconds=delay))


def _update_send(w: _Work, t: TargetView) -> Send:
    spec = w.r.spec
    return Send(
        device_id=t.device_id, name=UPDATE,
        args={"target": spec.target, "version": spec.version, "rollout_id": w.r.id,
              "force": spec.force},
        key=f"rollout:{w.r.id}:{t.attempt}", ttl_s=spec.ttl_s, slot="command",
    )


def _check_errors(w: _Work) -> str | None:
    for g in range(min(w.group, w.r.groups - 1) + 1):
        members = w.in_group(g)
        failed = sum(1 for t in members if t.state is TargetState.FAILED)
        if failed and failed >= errors_allowed(w.r.spec, len(members)):
            return f"error threshold: {failed} of {len(members)} failed in group {g + 1}"
    return None


def _advance(w: _Work, now: datetime) -> None:
    """Running: schedule, send what is due, and decide on the current group."""
    while True:
        g = w.group
        if w.group_started_at is None:
            _schedule(w, g, now)
            w.set_rollout(group_started_at=now)
        # Every started group: retried terminals of earlier groups are scheduled too.
        for t in sorted(w.targets.values(), key=lambda t: (t.group, t.position)):
            if t.state is TargetState.SCHEDULED and t.not_before is not None \
                    and t.not_before <= now:
                w.step.sends.append(_update_send(w, t))
                w.set(t, state=TargetState.SENT, not_before=None, command_id=None, command=None,
                      job=None)
        members = w.in_group(g)
        ok = sum(1 for t in members if t.state is TargetState.SUCCEEDED)
        if ok >= successes_needed(w.r.spec, len(members)) and (
            ok > 0 or all(t.state in DECIDED for t in members)
        ):
            if g + 1 >= w.r.groups:
                w.set_rollout(state=RolloutState.SUCCEEDED, reason=None)
                return
            w.set_rollout(group_index=g + 1, group_started_at=None)
            continue  # the next group starts in the same step
        if all(t.state in DECIDED for t in members):
            w.set_rollout(state=RolloutState.PAUSED, reason=(
                f"success threshold: {ok} of {len(members)} succeeded in group {g + 1}, "
                f"{successes_needed(w.r.spec, len(members))} needed"))
        return


def _unwind(w: _Work) -> None:
    """Aborted: nothing new starts; whoever took the release rolls back."""
    for t in list(w.targets.values()):
        if t.state in (TargetState.PENDING, TargetState.SCHEDULED):
            w.set(t, state=TargetState.SKIPPED, not_before=None)
        elif t.state is TargetState.SUCCEEDED:
            w.step.sends.append(Send(
                device_id=t.device_id, name=ROLLBACK,
                args={"rollout_id": w.r.id, "to_version": t.previous_version},
                key=f"rollout:{w.r.id}:rollback", ttl_s=w.r.spec.ttl_s, slot="rollback"))
            w.set(t, state=TargetState.ROLLING_BACK, rollback_command=None, rollback_job=None)
        elif t.state in (TargetState.SENT, TargetState.RUNNING) and not t.cancel_sent \
                and t.command_id is not None:
            # Stop it if it has not switched yet; if it still commits, it rolls back above.
            w.step.sends.append(Send(
                device_id=t.device_id, name=CANCEL_JOB,
                args={"job_id": t.command_id},
                key=f"rollout:{w.r.id}:cancel:{t.attempt}", ttl_s=w.r.spec.ttl_s,
                slot="cancel"))
            w.set(t, cancel_sent=True)


def step(rollout: RolloutView, targets: Sequence[TargetView], now: datetime) -> Step:
    """One step of `rollout` at `now`; the same inputs give the same step."""
    w = _Work(rollout, targets)
    if rollout.finished:
        return w.step
    for t in list(w.targets.values()):
        _observe(w, t, now)
    if w.state in (RolloutState.RUNNING, RolloutState.PAUSED):
        reason = _check_errors(w)
        if reason is not None:
            w.set_rollout(state=RolloutState.ABORTED, reason=reason)
    if w.state is RolloutState.RUNNING:
        _advance(w, now)
    if w.state is RolloutState.ABORTED:
        _unwind(w)
    if w.state in (RolloutState.SUCCEEDED, RolloutState.ABORTED) and not any(
        t.state in IN_FLIGHT or t.state in (TargetState.PENDING, TargetState.SCHEDULED)
        for t in w.targets.values()
    ) and not w.step.sends:
        w.set_rollout(finished_at=now)
    return w.step


# -- operator actions -------------------------------------------------------------------------


def pause(rollout: RolloutView) -> Step:
    if rollout.state is not RolloutState.RUNNING:
        raise Refused(f"only a running rollout can be paused (this one is {rollout.state})")
    return Step(rollout={"state": RolloutState.PAUSED, "reason": "paused by an operator"})


def resume(rollout: RolloutView, targets: Sequence[TargetView]) -> Step:
    """Paused → running. Terminals scheduled before the pause are scheduled again from now (the
    next step); a group that stopped at the success threshold is accepted by the operator and
    the next group starts."""
    if rollout.state is not RolloutState.PAUSED:
        raise Refused(f"only a paused rollout can be resumed (this one is {rollout.state})")
    w = _Work(rollout, targets)
    w.set_rollout(state=RolloutState.RUNNING, reason=None, group_started_at=None)
    for t in w.in_group(rollout.group):
        if t.state is TargetState.SCHEDULED:
            w.set(t, state=TargetState.PENDING, not_before=None)
    members = w.in_group(rollout.group)
    if members and all(t.state in DECIDED for t in members):
        if rollout.group + 1 >= rollout.groups:
            w.set_rollout(state=RolloutState.SUCCEEDED)
        else:
            w.set_rollout(group_index=rollout.group + 1)
    return w.step


def abort(rollout: RolloutView) -> Step:
    if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
        raise Refused(f"a {rollout.state} rollout cannot be aborted")
    return Step(rollout={"state": RolloutState.ABORTED, "reason": "aborted by an operator"})


def retry_failed(rollout: RolloutView, targets: Sequence[TargetView], now: datetime) -> Step:
    """Failed and expired terminals of the groups started so far get the update again (a new
    attempt, so a new command); a paused rollout runs again."""
    if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
        raise Refused(f"a {rollout.state} rollout cannot be retried")
    w = _Work(rollout, targets)
    again = [t for t in targets if t.state in RETRYABLE and t.group <= rollout.group]
    if not again:
        raise Refused("no failed or expired terminals to retry")
    spec, interval = rollout.spec, slot_interval_s(rollout.spec)
    for slot, t in enumerate(sorted(again, key=lambda t: (t.group, t.position))):
        delay = slot * interval + jitter_s(spec, rollout.seed, rollout.id, t.device_id)
        w.set(t, state=TargetState.SCHEDULED, attempt=t.attempt + 1, error=None,
              not_before=now + timedelta(seconds=delay), command_id=None, cancel_sent=False)
    if rollout.state is RolloutState.PAUSED:
        w.set_rollout(state=RolloutState.RUNNING, reason=None)
    return w.step
