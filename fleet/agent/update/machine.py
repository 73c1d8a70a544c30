"""The A/B update's phase machine: one copy of the logic, for the agent and the fleet simulator.

update:   download → verify → install → wait-lock → switch → commit → committed
                                                              ↘ rollback → rolled-back
          any refusal before the switch → refused (nothing changed on the terminal)
rollback: wait-lock → switch → rolled-back (or refused: no slot holds `to_version`)

Pure logic: every slot, file, download, status probe, clock and wait goes through `UpdateEnv`,
which the agent implements over the real terminal (fleet/agent/update/runner.py) and the
simulator over a virtual terminal's simulated disk (simulators/fleet/updates.py). Each phase
is saved before its work starts and can be redone from its start (`state.resume_action`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from common.backoff import Backoff
from fleet.agent.update.state import (
    PROGRESS,
    REFUSALS,
    Action,
    Artifact,
    Kind,
    Phase,
    UpdateState,
    resume_action,
)

log = logging.getLogger(__name__)

#: Test hooks (besides the phases' names): half-way through unpacking; just after the switch.
PAUSE_POINTS = frozenset({*(p.value for p in PROGRESS), "install-partial", "switched"})

Report = Callable[[float, dict[str, Any]], None]


class Stopped(Exception):
    """The agent is stopping: the job goes on from its saved phase at the next start."""


class Refused(Exception):
    """A phase cannot go on: refused before the switch, rolled back after it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Fetched:
    """A downloaded artifact, as the artifact client vouched for it."""

    version: str  # what the release is signed as
    artifact: Artifact


@dataclass(frozen=True)
class LockView:
    """The update lock as observed once: free to switch, or why not."""

    free: bool
    why: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)  # when free: what answers now


class UpdateEnv(Protocol):
    """What differs between a real terminal and a simulated one. `wait` and `pause` raise
    `Stopped` when the agent stops; `install` and the fetcher may raise `Refused`."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def download_tries(self) -> int: ...  # the machine retries a failed fetch this often
    @property
    def commit_deadline_s(self) -> float: ...
    @property
    def poll_s(self) -> float: ...

    # the slots
    def current(self) -> str | None: ...
    def other(self, slot: str | None) -> str: ...
    def version(self, slot: str | None) -> str | None: ...
    def runnable(self, slot: str) -> bool: ...
    def install(self, slot: str, artifact: Artifact, version: str,
                halfway: Callable[[], None]) -> None: ...
    def switch(self, slot: str) -> None: ...

    # the durable state
    def load(self) -> UpdateState | None: ...
    def save(self, state: UpdateState) -> None: ...

    # the artifact
    def fetcher(self) -> Callable[[str], Fetched]: ...  # one per download phase
    def file_ok(self, artifact: Artifact) -> bool: ...  # still what the client vouched for
    def discard(self, artifact: Artifact) -> None: ...

    # the terminal
    def lock(self, kind: Kind) -> LockView: ...
    def health(self, state: UpdateState) -> tuple[bool, str]: ...
    def restart(self) -> None: ...
    def pause(self, point: str) -> None: ...
    def clock(self) -> float: ...
    def wait(self, seconds: float) -> None: ...


def no_report(progress: float, output: dict[str, Any]) -> None:
    pass


class UpdateMachine:
    def __init__(self, env: UpdateEnv, report: Report = no_report) -> None:
        self.env = env
        self.report = report

    def run(self, job_id: str, name: str, args: dict[str, Any]) -> UpdateState:
        """Do (or go on with) the job to its final state; raises Stopped."""
        state = self.env.load()
        if state is not None and state.job_id != job_id and not state.phase.final:
            # An update whose job was lost (jobs.json): finish it first, unreported.
            log.warning("finishing the update of job %s first", state.job_id)
            report, self.report = self.report, no_report
            self.drive(self.resumed(state))
            self.report = report
            state = None
        if state is not None and state.job_id == job_id:
            return self.drive(self.resumed(state))
        return self.drive(self.begin(job_id, name, args))

    def begin(self, job_id: str, name: str, args: dict[str, Any]) -> UpdateState:
        env = self.env
        current = env.current()
        running = env.version(current)
        common = {"job_id": job_id, "from_version": running, "from_slot": current,
                  "rollout_id": args.get("rollout_id")}
        if name == Kind.ROLLBACK:
            to_version = str(args["to_version"])
            other = env.other(current)
            state = UpdateState(kind=Kind.ROLLBACK, phase=Phase.WAIT_LOCK, version=to_version,
                                to_slot=other, **common)
            if running == to_version:
                return state.at(Phase.ROLLED_BACK, running_version=running)
            if env.version(other) != to_version:
                held = env.version(other) or "no installed release"
                return state.at(Phase.REFUSED, reason="no-previous-slot",
                                detail=f"the other slot holds {held}", running_version=running)
            return state
        state = UpdateState(kind=Kind.UPDATE, phase=Phase.DOWNLOAD, version=str(args["version"]),
                            target=str(args["target"]), force=bool(args.get("force")), **common)
        if running == state.version and not state.force:
            return state.at(Phase.COMMITTED, reason="already-running", running_version=running)
        return state

    def resumed(self, state: UpdateState) -> UpdateState:
        action = resume_action(state, self.env.current(), self.env.max_attempts)
        log.info("update job %s found in phase %s (attempt %d): %s", state.job_id,
                 state.phase.value, state.attempt, action.value)
        if action is Action.REPORT:
            return state
        if action is Action.GIVE_UP:
            return state.at(Phase.REFUSED, reason="install-failed",
                            detail=f"gave up after {state.attempt} restarts in {state.phase}",
                            running_version=self._running())
        return replace(state, phase=Phase(action.value), attempt=state.attempt + 1)

    def drive(self, state: UpdateState) -> UpdateState:
        while not state.phase.final:
            self._enter(state)
            try:
                state = self._execute(state)
            except Refused as exc:
                if state.phase.switched and state.kind is Kind.UPDATE:  # never strand it
                    state = state.at(Phase.ROLLBACK, reason=exc.reason, detail=exc.detail)
                else:
                    state = state.at(Phase.REFUSED, reason=exc.reason, detail=exc.detail,
                                     running_version=self._running())
        self.env.save(state)
        if state.artifact is not None:
            self.env.discard(state.artifact)  # done with it, whatever the outcome
        return state

    # -- the phases -----------------------------------------------------------------------------

    def _enter(self, state: UpdateState) -> None:
        self.env.save(state)  # before the phase's work: a restart redoes the phase
        self.report(PROGRESS[state.phase], {"phase": state.phase.value,
                                             "version": state.version})
        self.env.pause(state.phase.value)

    def _execute(self, state: UpdateState) -> UpdateState:
        work = {
            Phase.DOWNLOAD: self._download, Phase.VERIFY: self._verify,
            Phase.INSTALL: self._install, Phase.WAIT_LOCK: self._wait_lock,
            Phase.SWITCH: self._switch, Phase.COMMIT: self._commit,
            Phase.ROLLBACK: self._roll_back,
        }
        return work[state.phase](state)

    def _download(self, state: UpdateState) -> UpdateState:
        fetch = self.env.fetcher()
        tries = self.env.download_tries
        for attempt in range(1, tries + 1):
            try:
                got = fetch(state.target)
                break
            except (Refused, Stopped):
                raise
            except Exception as exc:
                reason = getattr(exc, "reason", None)
                if reason in REFUSALS and reason != "download-failed":
                    raise Refused(reason, str(exc)[:300] or reason) from None
                log.warning("download of %s failed (try %d of %d): %r", state.target, attempt,
                            tries, exc)
                if attempt == tries:
                    raise Refused("download-failed", (str(exc) or type(exc).__name__)[:300]
                                  ) from None
                self.env.wait(Backoff(2.0, 60.0).delay(attempt))
        if got.version != state.version:
            raise Refused("not-found", f"{state.target} is signed as version "
                          f"{got.version}, not {state.version}")
        return state.at(Phase.VERIFY, artifact=got.artifact)

    def _verify(self, state: UpdateState) -> UpdateState:
        """Offline checks before anything is written: the file is still what the client vouched
        for, and not older than what runs (TUF orders metadata, not releases)."""
        assert state.artifact is not None
        if not self.env.file_ok(state.artifact):
            raise Refused("tampered", "the downloaded file changed after verification")
        if not state.force and older(state.version, state.from_version):
            raise Refused("rollback", f"{state.version} is older than the running "
                          f"{state.from_version}")
        return state.at(Phase.INSTALL, to_slot=self.env.other(self.env.current()))

    def _install(self, state: UpdateState) -> UpdateState:
        if state.artifact is None or not self.env.file_ok(state.artifact):
            log.warning("the artifact is gone or changed; downloading it again")
            return state.at(Phase.DOWNLOAD, artifact=None)
        assert state.to_slot is not None
        self.env.install(state.to_slot, state.artifact, state.version,
                         lambda: self.env.pause("install-partial"))
        return state.at(Phase.WAIT_LOCK)

    def _wait_lock(self, state: UpdateState) -> UpdateState:
        while True:
            view = self.env.lock(state.kind)
            if view.free:
                return state.at(Phase.SWITCH, baseline=view.baseline)
            self.report(PROGRESS[Phase.WAIT_LOCK], {"phase": state.phase.value,
                                                     "version": state.version,
                                                     "waiting": view.why})
            self.env.wait(self.env.poll_s)

    def _switch(self, state: UpdateState) -> UpdateState:
        assert state.to_slot is not None
        if not self.env.runnable(state.to_slot):  # only after an edited state file
            if state.kind is Kind.ROLLBACK:
                raise Refused("no-previous-slot", f"slot {state.to_slot} holds no release")
            return state.at(Phase.INSTALL)
        self.env.switch(state.to_slot)
        self.env.pause("switched")
        if state.kind is Kind.ROLLBACK:
            self._restart_once(state)
            return state.at(Phase.ROLLED_BACK, running_version=self._running())
        return state.at(Phase.COMMIT, deadline=self.env.clock() + self.env.commit_deadline_s)

    def _commit(self, state: UpdateState) -> UpdateState:
        state = self._restart_once(state)
        deadline = state.deadline if state.deadline is not None else self.env.clock()
        while True:
            ok, why = self.env.health(state)
            if ok:
                log.info("release %s is healthy: committed", state.version)
                return state.at(Phase.COMMITTED, running_version=state.version)
            if self.env.clock() >= deadline:
                log.warning("release %s not healthy by its deadline (%s): rolling back",
                            state.version, why)
                return state.at(Phase.ROLLBACK, reason="unhealthy", detail=why)
            self.env.wait(min(self.env.poll_s, max(0.05, deadline - self.env.clock())))

    def _roll_back(self, state: UpdateState) -> UpdateState:
        back = state.from_slot
        detail = state.detail
        if back is not None and self.env.version(back) == state.from_version:
            self.env.switch(back)
        else:  # the first install on this terminal: nothing to go back to
            detail = f"{detail}; no previous release to go back to".lstrip("; ")
        self._restart_once(state)
        return state.at(Phase.ROLLED_BACK, detail=detail, running_version=self._running())

    # -- helpers --------------------------------------------------------------------------------

    def _restart_once(self, state: UpdateState) -> UpdateState:
        """Run the restart hook unless this phase did already: the hook may restart the agent
        itself (a self-update), which must not restart it again and again."""
        if state.restarted:
            return state
        state = replace(state, restarted=True)
        self.env.save(state)
        self.env.restart()
        return state

    def _running(self) -> str | None:
        return self.env.version(self.env.current())


def older(version: str, than: str | None) -> bool:
    if than is None:
        return False
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(version) < Version(than)
    except InvalidVersion:
        return False
