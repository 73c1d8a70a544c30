"""The `update` and `rollback` jobs on the real terminal (the shell runs them on a worker
thread; the core keeps and publishes the job).

The phases themselves are `fleet.agent.update.machine` (shared with the fleet simulator); this
is its environment on a real terminal: the A/B slots (`slots.Slots`), update.json
(`state.UpdateStateStore`), the artifact client (fleet/updates/client.py, or any
"module:factory" with its interface, imported only when a download starts), the kiosk's status
for the update lock and the health gate, and the restart command. Every wait watches the stop
event: `run` returns None when the agent stops, and the next agent process goes on from the
recorded phase.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from common.clock import Deadline
from fleet.agent.update.health import Observation, Window, healthy, lock_free
from fleet.agent.update.machine import (
    Fetched,
    LockView,
    Refused,
    Report,
    Stopped,
    UpdateMachine,
)
from fleet.agent.update.slots import SlotError, Slots
from fleet.agent.update.state import (
    DOWNLOAD_TRIES,
    MAX_ATTEMPTS,
    Artifact,
    JobEnd,
    Kind,
    UpdateState,
    UpdateStateStore,
    outcome,
)

if TYPE_CHECKING:
    from fleet.agent.settings import AgentSettings

log = logging.getLogger(__name__)

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


class UpdateRunner:
    def __init__(self, config: RunnerConfig, status: StatusSource, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config  # replaced whole by set-config (apply_live); read at each use
        self.status = status
        self.slots = Slots(config.install_root)
        self.store = UpdateStateStore(config.work_dir)
        self._clock = clock

    def unfinished(self) -> UpdateState | None:
        """The update a previous agent process left in the middle, if any."""
        state = self.store.load()
        return state if state is not None and not state.phase.final else None

    def run(self, job_id: str, name: str, args: dict[str, Any], report: Report,
            stop: threading.Event) -> JobEnd | None:
        """Do (or go on with) the job; None when `stop` was set first (resumed next start)."""
        try:
            return outcome(UpdateMachine(_Terminal(self, stop), report).run(job_id, name, args))
        except Stopped:
            log.info("update job %s stopped; it goes on when the agent starts again", job_id)
            return None


class _Terminal:
    """`machine.UpdateEnv` on this terminal, for one run (its stop event)."""

    download_tries = DOWNLOAD_TRIES

    def __init__(self, runner: UpdateRunner, stop: threading.Event) -> None:
        self.runner = runner
        self.slots = runner.slots
        self.store = runner.store
        self._stop = stop

    @property
    def config(self) -> RunnerConfig:
        return self.runner.config

    @property
    def max_attempts(self) -> int:
        return self.config.max_attempts

    @property
    def commit_deadline_s(self) -> float:
        return self.config.commit_deadline_s

    @property
    def poll_s(self) -> float:
        return self.config.poll_s

    # -- the slots ------------------------------------------------------------------------------

    def current(self) -> str | None:
        return self.slots.current()

    def other(self, slot: str | None) -> str:
        return self.slots.other(slot)

    def version(self, slot: str | None) -> str | None:
        return self.slots.version(slot)

    def runnable(self, slot: str) -> bool:
        return self.slots.runnable(slot)

    def install(self, slot: str, artifact: Artifact, version: str,
                halfway: Callable[[], None]) -> None:
        members = 0

        def unpacked_one() -> None:
            nonlocal members
            members += 1
            if members == 2:
                halfway()

        try:
            self.slots.install(slot, Path(artifact.path), version, on_member=unpacked_one)
        except SlotError as exc:
            raise Refused("install-failed", str(exc)[:300]) from None

    def switch(self, slot: str) -> None:
        self.slots.switch(slot)

    # -- update.json ----------------------------------------------------------------------------

    def load(self) -> UpdateState | None:
        return self.store.load()

    def save(self, state: UpdateState) -> None:
        self.store.save(state)

    # -- the artifact ---------------------------------------------------------------------------

    def fetcher(self) -> Callable[[str], Fetched]:
        cfg = self.config
        if not cfg.repository_url:
            raise Refused("download-failed", "no update repository configured")
        module, _, attr = cfg.client.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise Refused("download-failed", f"no artifact client {cfg.client}: {exc}") from None
        cfg.download_dir.mkdir(parents=True, exist_ok=True)
        client = factory(cfg.metadata_dir, cfg.repository_url, cfg.download_dir,
                         timeout_s=min(cfg.download_timeout_s, 60.0))

        def fetch(target: str) -> Fetched:
            got = client.fetch(target, Deadline(cfg.download_timeout_s))
            return Fetched(got.version, Artifact(str(got.path), got.sha256, int(got.length)))

        return fetch

    def file_ok(self, artifact: Artifact) -> bool:
        return _file_matches(artifact)

    def discard(self, artifact: Artifact) -> None:
        with contextlib.suppress(OSError):
            Path(artifact.path).unlink()

    # -- the terminal ---------------------------------------------------------------------------

    def lock(self, kind: Kind) -> LockView:
        window = self.config.window if kind is Kind.UPDATE else None
        obs = self.runner.status.observe()
        free, why = lock_free(obs)
        now = datetime.fromtimestamp(self.clock(), UTC)
        if free and window is not None and not window.contains(now):
            free, why = False, "outside the maintenance window"
        return LockView(True, baseline=obs.baseline()) if free else LockView(False, why)

    def health(self, state: UpdateState) -> tuple[bool, str]:
        return healthy(self.runner.status.observe(), state.version, state.baseline)

    def restart(self) -> None:
        argv = list(self.config.restart_command)
        if not argv:
            log.info("no restart command configured")
            return
        root = self.config.install_root
        env = {**os.environ, "HRSS_INSTALL_ROOT": str(root),
               "HRSS_SLOT": str(root / (self.slots.current() or "")),
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
                self.wait(0.05)
        if proc.returncode != 0:
            log.error("restart command %s exited with %s", argv[0], proc.returncode)

    def pause(self, point: str) -> None:
        if self.config.pause_at == point:
            log.warning("update paused at %s (test hook); waiting to be stopped", point)
            self._stop.wait()
            raise Stopped

    def clock(self) -> float:
        return self.runner._clock()

    def wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Stopped


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

