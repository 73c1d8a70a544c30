"""Run the stack's processes as children: start, wait until ready, stop the whole tree.

Each child gets its own process group so that stopping it also stops anything it started,
and its output goes to a log file the caller can read when something fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

log = logging.getLogger(__name__)


class ProcessFailed(RuntimeError):
    """A child exited or never became ready; the message carries the tail of its log."""


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Polled until it returns True; None means "ready as soon as it runs".
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 30.0
    stop_timeout: float = 10.0
    # Run by stop() once the process has gone (say, to remove a folder made for it).
    cleanup: Callable[[], None] | None = None


class ManagedProcess:
    def __init__(self, spec: ProcessSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.spec.env}
        log.info("starting %s: %s", self.name, " ".join(self.spec.argv))
        self._proc = subprocess.Popen(
            self.spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.spec.cwd,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        assert self._proc is not None, "not started"
        deadline = time.monotonic() + self.spec.ready_timeout
        while True:
            if self._proc.poll() is not None:
                raise ProcessFailed(
                    f"{self.name} exited with status {self._proc.returncode} before it was ready"
                    f"\n--- {self.log_path} ---\n{self.log_tail()}"
                )
            if self.spec.ready is None or self.spec.ready():
                return
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"{self.name} not ready within {self.spec.ready_timeout:.0f}s"
                    f"\n--- {self.log_path} ---\n{self.log_tail()}"
                )
            # Wakes at once if the child exits; otherwise paces the readiness poll.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=0.05)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self) -> int | None:
        """SIGTERM the process group, then SIGKILL what is left after `stop_timeout`."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout=self.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM; killing it", self.name)
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
        # Children that outlived their leader (same group) go too.
        self._signal_group(signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.spec.cleanup is not None:
            self.spec.cleanup()
        return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL at once: the 'killed process' failure a test can cause."""
        if self._proc is not None and self._proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self._proc.wait()


class Supervisor:
    """Starts processes in order and stops them in reverse; a context manager."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[ManagedProcess] = []

    def start(self, spec: ProcessSpec) -> ManagedProcess:
        proc = ManagedProcess(spec, self.log_dir)
        self.processes.append(proc)
        proc.start()
        try:
            proc.wait_ready()
        except ProcessFailed:
            proc.stop()
            raise
        return proc

    def restart(self, proc: ManagedProcess) -> ManagedProcess:
        proc.stop()
        self.processes.remove(proc)
        return self.start(proc.spec)

    def stop_all(self) -> None:
        while self.processes:
            proc = self.processes.pop()
            try:
                proc.stop()
            except Exception:
                log.exception("stopping %s failed", proc.name)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
