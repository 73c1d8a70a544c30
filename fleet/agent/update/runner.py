"""The `update` and `rollback` jobs' work, phase by phase (the shell runs it on a worker thread;
the core keeps and publishes the job).

update:   download → verify → install → wait-lock → switch → commit → committed
                                                              ↘ rollback → rolled-back
          any refusal before the switch → refused (nothing changed on the terminal)
rollback: wait-lock → switch → rolled-back (or refused: no slot holds `to_version`)

Each phase is recorded (`state.UpdateStateStore`) before it starts and can be redone from its
start, so a kill -9 or a power cut anywhere resumes or rolls back (`state.resume_action`).
Every wait watches the stop event: `run` returns None when the agent stops, and the next agent
process goes on from the recorded phase. The artifact client (fleet/updates/client.py, or any
"module:factory" with its interface) is imported only when a download starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from common.backoff import Backoff
from common.clock import Deadline
from fleet.agent.update.health import Observation, Window, healthy, lock_free
from fleet.agent.update.slots import SlotError, Slots
from fleet.agent.update.state import (
    DOWNLOAD_TRIES,
    MAX_ATTEMPTS,
    PROGRESS,
    REFUSALS,
    Action,
    Artifact,
    JobEnd,
    Kind,
    Phase,
    UpdateState,
    UpdateStateStore,
    outcome,
    resume_action,
)

if TYPE_CHECKING:
    from fleet.agent.settings import AgentSettings

log = logging.getLogger(__name__)

#: Test hooks (besides the phases' names): half-way through unpacking; just after the switch.
PAUSE_POINTS = frozenset({*(p.value for p in PROGRESS), "install-partial", "switched"})


class StatusSource(Protocol):
    def observe(self) -> Observation: ...


@dataclass(frozen=True)
class RunnerConfig:
    install_root: Path
    work_dir: Path  # update.json and downloads/; outside the slots
    metadata_dir: Path
    repository_url: str
    client: str  # "module:factory"
    download_timeout_s: float = 1800.0
    restart_command: tuple[str, ...] = ()
    restart_timeout_s: float = 60.0
    window: Window | None = None
    commit_deadline_s: float = 300.0
    poll_s: float = 2.0
    pause_at: str | None = None
    max_attempts: int = MAX_ATTEMPTS

    @property
    def download_dir(self) -> Path:
        return self.work_dir / "downloads"

    @classmethod
    def from_settings(cls, s: AgentSettings) -> RunnerConfig:
        return cls(
            install_root=s.install_root, work_dir=s.state_dir / "update",
            metadata_dir=s.update_metadata_dir or s.state_dir / "tuf",
            repository_url=s.update_repository_url, client=s.update_client,
            download_timeout_s=s.download_timeout_s, restart_command=tuple(s.restart_command),
            restart_timeout_s=s.restart_timeout_s,
            window=Window.parse(s.maintenance_window) if s.maintenance_window else None,
            commit_deadline_s=s.commit_deadline_s, poll_s=s.update_poll_s,
            pause_at=s.update_pause_at,
        )


Report = Callable[[float, dict[str, Any]], None]


class _Stopped(Exception):
    pass


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UpdateRunner:
    def __init__(self, config: RunnerConfig, status: StatusSource, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.status = status
        self.slots = Slots(config.install_root)
        self.store = UpdateStateStore(config.work_dir)
        self._clock = clock
        self._report: Report = _no_report
        self._stop = threading.Event()

    def unfinished(self) -> UpdateState | None:
        """The update a previous agent process left in the middle, if any."""
        state = self.store.load()
        return state if state is not None and not state.phase.final else None

    def run(self, job_id: str, name: str, args: dict[str, Any], report: Report,
            stop: threading.Event) -> JobEnd | None:
        """Do (or go on with) the job; None when `stop` was set first (resumed next start)."""
        self._report, self._stop = report, stop
        try:
            state = self.store.load()
            if state is not None and state.job_id != job_id and not state.phase.final:
                # An update whose job was lost (jobs.json): finish it first, unreported.
                log.warning("finishing the update of job %s first", state.job_id)
                self._report = _no_report
                self._drive(self._resumed(state))
                self._report = report
                state = None
            if state is not None and state.job_id == job_id:
                return outcome(self._drive(self._resumed(state)))
            return outcome(self._drive(self._begin(job_id, name, args)))
        except _Stopped:
            log.info("update job %s stopped; it goes on when the agent starts again", job_id)
            return None

    # -- the phases -----------------------------------------------------------------------------

    def _begin(self, job_id: str, name: str, args: dict[str, Any]) -> UpdateState:
        current = self.slots.current()
        running = self.slots.version(current)
        common = {"job_id": job_id, "from_version": running, "from_slot": current,
                  "rollout_id": args.get("rollout_id")}
        if name == Kind.ROLLBACK:
            to_version = str(args["to_version"])
            other = self.slots.other(current)
            state = UpdateState(kind=Kind.ROLLBACK, phase=Phase.WAIT_LOCK, version=to_version,
                                to_slot=other, **common)
            if running == to_version:
                return state.at(Phase.ROLLED_BACK, running_version=running)
            if self.slots.version(other) != to_version:
                held = self.slots.version(other) or "no installed release"
                return state.at(Phase.REFUSED, reason="no-previous-slot",
                                detail=f"the other slot holds {held}", running_version=running)
            return state
        state = UpdateState(kind=Kind.UPDATE, phase=Phase.DOWNLOAD, version=str(args["version"]),
                            target=str(args["target"]), force=bool(args.get("force")), **common)
        if running == state.version and not state.force:
            return state.at(Phase.COMMITTED, reason="already-running", running_version=running)
        return state

    def _resumed(self, state: UpdateState) -> UpdateState:
        action = resume_action(state, self.slots.current(), self.config.max_attempts)
        log.info("update job %s found in phase %s (attempt %d): %s", state.job_id,
                 state.phase.value, state.attempt, action.value)
        if action is Action.REPORT:
            return state
        if action is Action.GIVE_UP:
            return state.at(Phase.REFUSED, reason="install-failed",
                            detail=f"gave up after {state.attempt} restarts in {state.phase}",
                            running_version=self.slots.current_version())
        return replace(state, phase=Phase(action.value), attempt=state.attempt + 1)

    def _drive(self, state: UpdateState) -> UpdateState:
        while not state.phase.final:
            self._enter(state)
            try:
                state = self._execute(state)
            except _Refused as exc:
                if state.phase.switched and state.kind is Kind.UPDATE:  # never strand it
                    state = state.at(Phase.ROLLBACK, reason=exc.reason, detail=exc.detail)
                else:
                    state = state.at(Phase.REFUSED, reason=exc.reason, detail=exc.detail,
                                     running_version=self.slots.current_version())
        self.store.save(state)
        if state.artifact is not None:
            with contextlib.suppress(OSError):
                Path(state.artifact.path).unlink()  # done with it, whatever the outcome
        return state

    def _enter(self, state: UpdateState) -> None:
        self.store.save(state)  # before the phase's work: a restart redoes the phase
        self._report(PROGRESS[state.phase], {"phase": state.phase.value,
                                              "version": state.version})
        self._pause(state.phase.value)

    def _execute(self, state: UpdateState) -> UpdateState:
        work = {
            Phase.DOWNLOAD: self._download, Phase.VERIFY: self._verify,
            Phase.INSTALL: self._install, Phase.WAIT_LOCK: self._wait_lock,
            Phase.SWITCH: self._switch, Phase.COMMIT: self._commit,
            Phase.ROLLBACK: self._roll_back,
        }
        return work[state.phase](state)

    def _download(self, state: UpdateState) -> UpdateState:
        client = self._client()
        for attempt in range(1, DOWNLOAD_TRIES + 1):
            try:
                artifact = client.fetch(state.target, Deadline(self.config.download_timeout_s))
                break
            except Exception as exc:
                reason = getattr(exc, "reason", None)
                if reason in REFUSALS and reason != "download-failed":
                    raise _Refused(reason, str(exc)[:300] or reason) from None
                log.warning("download of %s failed (try %d of %d): %r", state.target, attempt,
                            DOWNLOAD_TRIES, exc)
                if attempt == DOWNLOAD_TRIES:
                    raise _Refused("download-failed", (str(exc) or type(exc).__name__)[:300]
                                   ) from None
                self._wait(Backoff(2.0, 60.0).delay(attempt))
        if artifact.version != state.version:
            raise _Refused("not-found", f"{state.target} is signed as version "
                           f"{artifact.version}, not {state.version}")
        return state.at(Phase.VERIFY, artifact=Artifact(str(artifact.path), artifact.sha256,
                                                        int(artifact.length)))

    def _verify(self, state: UpdateState) -> UpdateState:
        """Offline checks before anything is written: the file is still what TUF vouched for,
        and not older than what runs (TUF orders metadata, not releases)."""
        assert state.artifact is not None
        if not _file_matches(state.artifact):
            raise _Refused("tampered", "the downloaded file changed after verification")
        if not state.force and _older(state.version, state.from_version):
            raise _Refused("rollback", f"{state.version} is older than the running "
                           f"{state.from_version}")
        return state.at(Phase.INSTALL, to_slot=self.slots.other(self.slots.current()))

    def _install(self, state: UpdateState) -> UpdateState:
        if state.artifact is None or not _file_matches(state.artifact):
            log.warning("the artifact is gone or changed; downloading it again")
            return state.at(Phase.DOWNLOAD, artifact=None)
        assert state.to_slot is not None
        members = 0

        def unpacked_one() -> None:
            nonlocal members
            members += 1
            if members == 2:
                self._pause("install-partial")

        try:
            self.slots.install(state.to_slot, Path(state.artifact.path), state.version,
                               on_member=unpacked_one)
        except SlotError as exc:
            raise _Refused("install-failed", str(exc)[:300]) from None
        return state.at(Phase.WAIT_LOCK)

    def _wait_lock(self, state: UpdateState) -> UpdateState:
        window = self.config.window if state.kind is Kind.UPDATE else None
        while True:
            obs = self.status.observe()
            free, why = lock_free(obs)
            now = datetime.fromtimestamp(self._clock(), UTC)
            if free and window is not None and not window.contains(now):
                free, why = False, "outside the maintenance window"
            if free:
                return state.at(Phase.SWITCH, baseline=obs.baseline())
            self._report(PROGRESS[Phase.WAIT_LOCK], {"phase": state.phase.value,
                                                      "version": state.version, "waiting": why})
            self._wait(self.config.poll_s)

    def _switch(self, state: UpdateState) -> UpdateState:
        assert state.to_slot is not None
        if not self.slots.runnable(state.to_slot):  # only after an edited state file
            if state.kind is Kind.ROLLBACK:
                raise _Refused("no-previous-slot", f"slot {state.to_slot} holds no release")
            return state.at(Phase.INSTALL)
        self.slots.switch(state.to_slot)
        self._pause("switched")
        if state.kind is Kind.ROLLBACK:
            self._restart_once(state)
            return state.at(Phase.ROLLED_BACK, running_version=self.slots.current_version())
        return state.at(Phase.COMMIT, deadline=self._clock() + self.config.commit_deadline_s)

    def _commit(self, state: UpdateState) -> UpdateState:
        state = self._restart_once(state)
        deadline = state.deadline if state.deadline is not None else self._clock()
        while True:
            ok, why = healthy(self.status.observe(), state.version, state.baseline)
            if ok:
                log.info("release %s is healthy: committed", state.version)
                return state.at(Phase.COMMITTED, running_version=state.version)
            if self._clock() >= deadline:
                log.warning("release %s not healthy by its deadline (%s): rolling back",
                            state.version, why)
                return state.at(Phase.ROLLBACK, reason="unhealthy", detail=why)
            self._wait(min(self.config.poll_s, max(0.05, deadline - self._clock())))

    def _roll_back(self, state: UpdateState) -> UpdateState:
        back = state.from_slot
        detail = state.detail
        if back is not None and self.slots.version(back) == state.from_version:
            self.slots.switch(back)
        else:  # the first install on this terminal: nothing to go back to
            detail = f"{detail}; no previous release to go back to".lstrip("; ")
        self._restart_once(state)
        return state.at(Phase.ROLLED_BACK, detail=detail,
                        running_version=self.slots.current_version())

    # -- helpers --------------------------------------------------------------------------------

    def _restart_once(self, state: UpdateState) -> UpdateState:
        """Run the restart hook unless this phase did already: the hook may restart the agent
        itself (a self-update), which must not restart it again and again."""
        if state.restarted:
            return state
        state = replace(state, restarted=True)
        self.store.save(state)
        self._restart(state)
        return state

    def _restart(self, state: UpdateState) -> None:
        argv = list(self.config.restart_command)
        if not argv:
            log.info("no restart command configured")
            return
        env = {**os.environ, "HRSS_INSTALL_ROOT": str(self.config.install_root),
               "HRSS_SLOT": str(self.config.install_root / (self.slots.current() or "")),
               "HRSS_VERSION": self.slots.current_version() or ""}
        self.config.work_dir.mkdir(parents=True, exist_ok=True)
        with (self.config.work_dir / "restart-hook.log").open("wb") as out:
            try:
                proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                log.error("restart command %s cannot run: %s", argv[0], exc)
                return
            deadline = Deadline(self.config.restart_timeout_s)
            while proc.poll() is None:
                if deadline.expired:
                    log.error("restart command %s still running after %gs; killed", argv[0],
                              self.config.restart_timeout_s)
                    proc.kill()
                    proc.wait()
                    return
                # Stopping leaves the hook running: a restart cut in half is worse.
                self._wait(0.05)
        if proc.returncode != 0:
            log.error("restart command %s exited with %s", argv[0], proc.returncode)

    def _client(self) -> Any:
        cfg = self.config
        if not cfg.repository_url:
            raise _Refused("download-failed", "no update repository configured")
        module, _, attr = cfg.client.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise _Refused("download-failed", f"no artifact client {cfg.client}: {exc}") from None
        cfg.download_dir.mkdir(parents=True, exist_ok=True)
        return factory(cfg.metadata_dir, cfg.repository_url, cfg.download_dir,
                       timeout_s=min(cfg.download_timeout_s, 60.0))

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _pause(self, point: str) -> None:
        if self.config.pause_at == point:
            log.warning("update paused at %s (test hook); waiting to be stopped", point)
            self._stop.wait()
            raise _Stopped


def _no_report(progress: float, output: dict[str, Any]) -> None:
    pass


def _file_matches(artifact: Artifact) -> bool:
    digest = hashlib.sha256()
    size = 0
    try:
        with open(artifact.path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > artifact.length:
                    return False
                digest.update(chunk)
    except OSError:
        return False
    return size == artifact.length and digest.hexdigest() == artifact.sha256


def _older(version: str, than: str | None) -> bool:
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
