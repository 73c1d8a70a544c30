"""The update runner of a virtual terminal: real downloads, simulated slots, the real phases.

The terminal's core hands out `RunJob` for an `update` or `rollback` job exactly as on a real
terminal; a small worker pool (`JobWorkers`, off the fleet's loop threads) runs the job here and
reports back through the core (`job_progress`, `job_finished`), so the job messages the manager
sees come from the agent's own code. What is simulated is the terminal under the runner:

- the artifact is really downloaded over HTTP from the artifact store, every byte checked:
  `tuf` mode: the agent's own client (`fleet.updates.client.ArtifactClient`, loaded as the real
  runner loads it, "module:factory") with a metadata directory per terminal (a full TUF refresh
  each); `shared` mode: one TUF refresh per process and target (the same client), then each
  terminal downloads the vouched-for file itself with HTTP Range and a SHA-256 check;
- the A/B slots, the update lock and the health gate are a few fields on the terminal's `Disk`;
  a release is healthy unless `ReleaseHealth` says it is bad (everywhere, or on a hardware
  model).

The phases, the durable state before each phase, the resume table after a restart and the job
outputs are the agent's own: the phase machine `fleet.agent.update.machine` runs here over
`_Run`, its environment on the virtual terminal (and `fleet.agent.update.state.outcome`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from common.clock import Deadline, utc_now
from common.files import write_atomically
from common.http import DeadlinePassed, deadline_transport, within
from fleet.agent.core import JobRecord, Publish
from fleet.agent.update.machine import (
    Fetched,
    LockView,
    Refused,
    Report,
    Stopped,
    UpdateMachine,
)
from fleet.agent.update.state import (
    DOWNLOAD_TRIES,
    MAX_ATTEMPTS,
    PROGRESS,
    Artifact,
    JobEnd,
    Kind,
    UpdateState,
    outcome,
)

if TYPE_CHECKING:
    from simulators.fleet.terminal import VirtualTerminal

log = logging.getLogger(__name__)

CRASH_PHASES = frozenset(p.value for p in PROGRESS)
CHUNK = 64 * 1024
MODES = ("tuf", "shared")
DEFAULT_CLIENT = "fleet.updates.client:ArtifactClient"


@dataclass(frozen=True)
class UpdateConfig:
    """Where releases come from and how the simulated runner behaves."""

    repository_url: str = ""
    root_json: bytes | None = None  # the store's 1.root.json: what a terminal is provisioned with
    work_dir: Path | None = None  # metadata directories and (tuf mode) downloads
    mode: str = "tuf"
    client: str = DEFAULT_CLIENT
    workers: int = 16  # jobs worked on at once (downloads included), over the whole fleet
    download_timeout_s: float = 120.0  # total, per download
    stall_timeout_s: float = 20.0  # one socket operation
    commit_deadline_s: float = 5.0  # the health gate's deadline after the switch
    poll_s: float = 0.2
    max_attempts: int = MAX_ATTEMPTS
    shared_refresh_s: float = 60.0  # shared mode: a target's verified info is reused this long

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")


@dataclass(frozen=True)
class ReleaseHealth:
    """Which releases never become healthy: `bad_versions` anywhere, any new release on the
    hardware models in `bad_on_models` (a driver the new release lacks)."""

    bad_versions: frozenset[str] = frozenset()
    bad_on_models: frozenset[str] = frozenset()

    def healthy(self, version: str, model: str) -> tuple[bool, str]:
        if version in self.bad_versions:
            return False, f"{version} never reports a ready screen"
        if model in self.bad_on_models:
            return False, f"{version} never reports a ready screen on {model}"
        return True, ""


class TerminalCrashed(Exception):
    """The simulated agent process died mid-phase (a fault asked for it)."""


Note = Callable[[str, int], None]


def _no_note(counter: str, delta: int) -> None:
    pass


# -- downloads ------------------------------------------------------------------------------------


@dataclass
class _Vouched:
    artifact: Any  # the client's VerifiedArtifact
    url: str
    at: float


class Downloads:
    """Real downloads for many terminals, each within a total deadline; see the module doc."""

    def __init__(self, config: UpdateConfig, note: Note = _no_note) -> None:
        self.config = config
        self._note = note
        self._factory: Any = None
        self._shared: dict[str, _Vouched] = {}
        self._shared_lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def fetch(self, device_id: str, target: str, stop: threading.Event) -> tuple[Any, str]:
        """(The client's VerifiedArtifact, the local file or "" when nothing was written)."""
        if not self.config.repository_url:
            raise Refused("download-failed", "no update repository configured")
        if self.config.mode == "tuf":
            client = self._client(self._dir("tuf", device_id), self._dir("downloads", device_id))
            artifact = client.fetch(target, Deadline(self.config.download_timeout_s))
            self._note("downloads", 1)
            self._note("download_bytes", int(artifact.length))
            self._note("tuf_refreshes", 1)
            return artifact, str(artifact.path)
        vouched = self._vouched(target)
        self._download(vouched, stop)
        return vouched.artifact, ""

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # -- the agent's client -----------------------------------------------------------------------

    def _dir(self, kind: str, device_id: str) -> Path:
        base = self.config.work_dir
        if base is None:
            raise Refused("download-failed", "no work directory for the terminals' metadata")
        return base / kind / device_id

    def _client(self, metadata_dir: Path, download_dir: Path) -> Any:
        if self._factory is None:
            module, _, attr = self.config.client.partition(":")
            try:
                self._factory = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise Refused("download-failed",
                               f"no artifact client {self.config.client}: {exc}") from None
        if not (metadata_dir / "root.json").exists():
            if self.config.root_json is None:
                raise Refused("download-failed", "no trusted root to provision")
            metadata_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(metadata_dir / "root.json", self.config.root_json, mode=0o644)
        return self._factory(metadata_dir, self.config.repository_url, download_dir,
                             timeout_s=min(self.config.download_timeout_s,
                                           self.config.stall_timeout_s))

    def _vouched(self, target: str) -> _Vouched:
        """One TUF refresh per target per `shared_refresh_s`, for the whole process."""
        with self._shared_lock:
            found = self._shared.get(target)
            if found is not None and time.monotonic() - found.at < self.config.shared_refresh_s:
                return found
            client = self._client(self._dir("tuf", "_shared"), self._dir("downloads", "_shared"))
            artifact = client.fetch(target, Deadline(self.config.download_timeout_s))
            self._note("tuf_refreshes", 1)
            # The store's name for the file (fleet/updates/client.py: hash-prefixed).
            dirname, sep, basename = str(artifact.target).rpartition("/")
            url = (f"{self.config.repository_url.rstrip('/')}/targets/{dirname}{sep}"
                   f"{artifact.sha256}.{basename}")
            found = self._shared[target] = _Vouched(artifact, url, time.monotonic())
            return found

    # -- shared mode: the terminal's own download ------------------------------------------------

    def _client_http(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                n = self.config.workers
                self._http = httpx.Client(
                    transport=deadline_transport(max_connections=n, max_keepalive=n),
                    timeout=httpx.Timeout(self.config.stall_timeout_s), follow_redirects=False,
                    headers={"User-Agent": "hrss-fleet-sim", "Accept-Encoding": "identity"})
            return self._http

    def _download(self, vouched: _Vouched, stop: threading.Event) -> None:
        """The whole file, resumed with Range after a cut, hashed as it comes (the simulated
        terminal keeps no copy); refused unless it is the signed length and SHA-256."""
        length, sha256 = int(vouched.artifact.length), str(vouched.artifact.sha256)
        digest, have = hashlib.sha256(), 0
        deadline = Deadline(self.config.download_timeout_s)
        http = self._client_http()
        last: Exception | None = None
        for _ in range(DOWNLOAD_TRIES):
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with within(deadline), http.stream("GET", vouched.url, headers=headers) as resp:
                    if resp.status_code == 404:
                        raise Refused("not-found", "the store has no file for it")
                    if resp.status_code == 200 and have:
                        digest, have = hashlib.sha256(), 0  # the range was ignored
                    elif resp.status_code not in (200, 206):
                        raise httpx.HTTPStatusError(f"HTTP {resp.status_code}",
                                                    request=resp.request, response=resp)
                    for chunk in resp.iter_raw(CHUNK):
                        have += len(chunk)
                        if have > length:
                            raise Refused("tampered", f"more than the {length} bytes signed")
                        digest.update(chunk)
                        self._note("download_bytes", len(chunk))
                        if stop.is_set():
                            raise Stopped
                if have == length:
                    break
            except (httpx.HTTPError, DeadlinePassed) as exc:
                last = exc
                if deadline.expired:
                    break
        if have != length:
            raise Refused("download-failed", f"{have} of {length} bytes by the deadline"
                           f"{f' ({last!r})' if last else ''}"[:300])
        if digest.hexdigest() != sha256:
            raise Refused("tampered", "the file's SHA-256 is not the signed one")
        self._note("downloads", 1)


# -- the runner -----------------------------------------------------------------------------------


class SimulatedRunner:
    """`fleet.agent.update.runner.UpdateRunner` over a virtual terminal's simulated disk."""

    def __init__(self, config: UpdateConfig, downloads: Downloads,
                 health: ReleaseHealth | None = None, *, note: Note = _no_note,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.downloads = downloads
        self.health = health or ReleaseHealth()
        self._note = note
        self._clock = clock

    def run(self, t: VirtualTerminal, job: JobRecord, report: Report,
            stop: threading.Event) -> JobEnd | None:
        """Do (or go on with) the job; None when `stop` was set first. Raises TerminalCrashed
        when the terminal's crash fault fires (its state is on the disk, as on a terminal)."""
        machine = UpdateMachine(_Run(self, t, stop), report)
        try:
            return outcome(machine.run(job.job_id, job.name, dict(job.args)))
        except Stopped:
            return None


class _Run:
    """`machine.UpdateEnv` on a virtual terminal, for one run: the slots and update.json are
    fields of its `Disk`, the lock its citizen session, the health gate `ReleaseHealth`."""

    download_tries = 1  # `Downloads` retries (shared mode) within its own deadline

    def __init__(self, runner: SimulatedRunner, t: VirtualTerminal,
                 stop: threading.Event) -> None:
        self.runner, self.t, self.stop = runner, t, stop
        self.config = runner.config
        self.max_attempts = self.config.max_attempts
        self.commit_deadline_s = self.config.commit_deadline_s
        self.poll_s = self.config.poll_s

    def current(self) -> str | None:
        return self.t.disk.current

    def other(self, slot: str | None) -> str:
        return "b" if slot == "a" else "a"

    def version(self, slot: str | None) -> str | None:
        return None if slot is None else self.t.disk.slots.get(slot)

    def runnable(self, slot: str) -> bool:
        return self.t.disk.slots.get(slot) is not None

    def install(self, slot: str, artifact: Artifact, version: str,
                halfway: Callable[[], None]) -> None:
        self.t.disk.slots[slot] = version

    def switch(self, slot: str) -> None:
        self.t.disk.current = slot

    def load(self) -> UpdateState | None:
        return self.t.disk.update

    def save(self, state: UpdateState) -> None:
        self.t.disk.update = state

    def fetcher(self) -> Callable[[str], Fetched]:
        def fetch(target: str) -> Fetched:
            got, path = self.runner.downloads.fetch(self.t.device_id, target, self.stop)
            return Fetched(got.version, Artifact(path, str(got.sha256), int(got.length)))

        return fetch

    def file_ok(self, artifact: Artifact) -> bool:
        return True  # `Downloads` checked every byte; the simulated disk changes nothing

    def discard(self, artifact: Artifact) -> None:
        if artifact.path:  # shared mode keeps no file
            with contextlib.suppress(OSError):
                Path(artifact.path).unlink()

    def lock(self, kind: Kind) -> LockView:
        if self.t.session_active:
            return LockView(False, "a citizen session is active")
        return LockView(True, baseline=self.t.baseline())

    def health(self, state: UpdateState) -> tuple[bool, str]:
        return self.runner.health.healthy(state.version, self.t.model)

    def restart(self) -> None:
        pass  # the kiosk app is not simulated: nothing to restart

    def pause(self, point: str) -> None:
        if self.t.crash_at == point:
            self.t.crash_at = None  # once: the restarted agent gets past it
            raise TerminalCrashed(point)

    def clock(self) -> float:
        return self.runner._clock()

    def wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped


# -- the worker pool ------------------------------------------------------------------------------

#: Runs a function on the terminal's own (loop) thread and sends what it returns.
Post = Callable[[Callable[[], list[Publish]]], None]
Crash = Callable[[], None]


@dataclass
class JobWorkers:
    """External jobs of many terminals on a bounded pool, reports handed back to each
    terminal's own thread (`post`), as the agent's job worker hands them to its core."""

    runner: SimulatedRunner
    note: Note = _no_note
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.runner.config.workers,
                                        thread_name_prefix="sim-update")
        self._closed = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, t: VirtualTerminal, job: JobRecord, post: Post, crash: Crash) -> None:
        if not self._closed.is_set():
            self._pool.submit(self._tracked, t, job, post, crash, t.generation, t.job_stop)

    def _tracked(self, *args: Any) -> None:
        with self._idle:
            self._busy += 1
        try:
            self._work(*args)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _work(self, t: VirtualTerminal, job: JobRecord, post: Post, crash: Crash,
              generation: int, stop: threading.Event) -> None:
        def current() -> bool:  # reports of a dead agent process never arrive
            return t.generation == generation

        def report(progress: float, output: dict[str, Any]) -> None:
            post(lambda: t.job_progress(job.job_id, utc_now(), progress=progress,
                                        output=output) if current() else [])

        # One job at a time per terminal: a killed agent's worker is still ending its phase.
        while not t.update_lock.acquire(timeout=0.2):
            if stop.is_set() or self._closed.is_set():
                return
        try:
            if stop.is_set():
                return
            try:
                end = self.runner.run(t, job, report, stop)
            except TerminalCrashed as exc:
                log.info("%s crashed in %s (fault)", t.device_id[-5:], exc)
                self.note("crashes", 1)
                if current():
                    crash()  # the fleet restarts the agent on the same disk
                return
            except Exception:
                log.exception("simulated job %s failed", job.job_id)
                end = JobEnd("install-failed: simulator error", {"phase": "refused"})
        finally:
            t.update_lock.release()
        if end is None:
            return
        phase = str(end.output.get("phase", ""))
        self.note(f"jobs_{phase.replace('-', '_')}", 1)
        if phase == "rolled-back" and job.name == Kind.UPDATE:
            self.note(f"rolled_back_on_{t.model}", 1)
        post(lambda: t.job_finished(job.job_id, utc_now(), error=end.error,
                                    output=end.output) if current() else [])

    def close(self, timeout: float = 5.0) -> None:
        """No new jobs; running ones stop at their next wait or chunk (the caller has set their
        terminals' `job_stop`). Returns when they have, or after `timeout`: a download inside
        the agent's client ends only by its own deadline, and its report goes nowhere."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout)
        self.runner.downloads.close()
