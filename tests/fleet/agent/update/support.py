"""Helpers for the update tests: release archives, an artifact client double (until
fleet/updates/client.py exists; its interface is the contract's), a kiosk whose status follows
the slot the restart hook last started, and that hook."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common.clock import Deadline


def release(path: Path, version: str, *, health: str = "ok",
            extra: dict[str, bytes] | None = None) -> Path:
    """A release archive as `kioskctl fleet artifacts build` makes one: VERSION and what runs.
    `health` goes into a HEALTH file the test kiosk reads ("bad": a release that never works)."""
    files = {"VERSION": f"{version}\n".encode(), "HEALTH": health.encode(),
             "app/run.sh": b"#!/bin/sh\necho kiosk\n", "app/data/strings.json": b"{}",
             **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


class UpdateRefused(Exception):
    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedArtifact:
    path: Path
    target: str
    version: str
    sha256: str
    length: int


class DirectoryRepository:
    """The repository side of the double: files plus a `targets.json` of what is "signed"."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.targets: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def publish(self, target: str, archive: Path, version: str, refuse: str = "") -> None:
        dest = self.root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest)
        data = dest.read_bytes()
        self.targets[target] = {"version": version, "sha256": hashlib.sha256(data).hexdigest(),
                                "length": len(data), "refuse": refuse}
        (self.root / "targets.json").write_text(json.dumps(self.targets))


class DirectoryClient:
    """ArtifactClient's interface over a DirectoryRepository (file:// URL)."""

    def __init__(self, metadata_dir: Path, repository_url: str, download_dir: Path, *,
                 timeout_s: float = 30.0) -> None:
        self.repo = Path(repository_url.removeprefix("file://"))
        self.download_dir = download_dir

    def fetch(self, target: str, deadline: Deadline) -> VerifiedArtifact:
        targets = json.loads((self.repo / "targets.json").read_text())
        entry = targets.get(target)
        if entry is None:
            raise UpdateRefused("not-found", f"{target} is not signed")
        if entry["refuse"]:
            raise UpdateRefused(entry["refuse"], f"refused as {entry['refuse']}")
        dest = self.download_dir / Path(target).name
        shutil.copyfile(self.repo / target, dest)
        data = dest.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["length"]:
            raise UpdateRefused("tampered", "hash mismatch")
        return VerifiedArtifact(dest, target, entry["version"], entry["sha256"], len(data))


CLIENT = f"{__name__}:DirectoryClient"

RESTART_HOOK = """#!/bin/sh
# The kiosk "restarts" on the slot current points at: what the test kiosk reports follows it.
set -e
run="$KIOSK_RUN_DIR"
cp "$HRSS_SLOT/VERSION" "$run/.running" && mv "$run/.running" "$run/running"
cp "$HRSS_SLOT/HEALTH" "$run/.health" && mv "$run/.health" "$run/health"
echo "$HRSS_VERSION" >> "$run/restarts.log"
"""


def restart_hook(directory: Path) -> Path:
    hook = directory / "restart-kiosk.sh"
    hook.write_text(RESTART_HOOK)
    hook.chmod(0o755)
    return hook


class SlotKiosk:
    """`GET /status` of a kiosk running the release the restart hook last started
    (`<run_dir>/running`, `<run_dir>/health`); `session_active` set by the test."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.session_active = False
        self.requests = 0
        self._cond = threading.Condition()
        kiosk = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(kiosk.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with kiosk._cond:
                    kiosk.requests += 1
                    kiosk._cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/status"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def document(self) -> dict[str, Any]:
        version = (self.run_dir / "running").read_text().strip()
        bad = (self.run_dir / "health").read_text().strip() == "bad"
        reader = ({"state": "missing", "code": "driver-unavailable", "reason": "broken"}
                  if bad else {"state": "ok", "code": "ok", "reason": ""})
        return {"schema": "hrss.kiosk-status/1", "app_version": version,
                "device_id": "fake-kiosk", "screen": "attract",
                "session_active": self.session_active,
                "peripherals": {"card_reader": reader}}

    def wait_requests(self, count: int, timeout: float = 20.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.requests >= count, timeout), \
                f"{self.requests} of {count} status requests"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the signed store, as an operator runs it (kioskctl fleet artifacts …) ---------------------


def release_tree(directory: Path, version: str, *, health: str = "ok") -> Path:
    """What a slot holds, as a source tree for `kioskctl fleet artifacts build`; `health` as
    in `release` ("bad": the SlotKiosk reports its card reader missing)."""
    (directory / "app" / "data").mkdir(parents=True, exist_ok=True)
    (directory / "HEALTH").write_text(health)
    (directory / "app" / "run.sh").write_text("#!/bin/sh\necho kiosk\n")
    (directory / "app" / "run.sh").chmod(0o755)
    (directory / "app" / "data" / "strings.json").write_text("{}")
    return directory


class OperatorStore:
    """A TUF artifact store driven only through `kioskctl fleet artifacts` processes: the
    offline keys in one directory, the online keys in another, as docs/fleet-updates.md says."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.repo = base / "repo"
        self.offline = base / "offline-keys"
        self.online = base / "online-keys"
        self.dist = base / "dist"

    def kioskctl(self, *args: str | Path, check: bool = True) -> Any:
        """One `kioskctl fleet artifacts …` process; its CompletedProcess (text)."""
        import subprocess

        from tests.fleet.updates.support import KIOSKCTL

        proc = subprocess.run([KIOSKCTL, "fleet", "artifacts", *map(str, args)],
                              check=False, capture_output=True, text=True, timeout=60,
                              cwd=self.base)
        if check:
            assert proc.returncode == 0, f"kioskctl {args[0]} exited {proc.returncode}:\n" \
                                         f"{proc.stdout}\n{proc.stderr}"
        return proc

    def init(self, *options: str) -> OperatorStore:
        self.base.mkdir(parents=True, exist_ok=True)
        self.kioskctl("init", "--repo", self.repo, "--offline-keys", self.offline,
                      "--online-keys", self.online, *options)
        return self

    @property
    def root_json(self) -> bytes:
        """The first root: what the terminals are provisioned with (they walk on from it)."""
        return (self.repo / "metadata" / "1.root.json").read_bytes()

    def build(self, version: str, *, health: str = "ok") -> Path:
        src = release_tree(self.base / "src" / version, version, health=health)
        out = self.dist / f"hrss-kiosk-{version}.tar.gz"
        self.kioskctl("build", src, "--version", version, "--out", out)
        return out

    def sign(self, *artifacts: Path) -> None:
        self.kioskctl("sign", "--repo", self.repo, "--offline-keys", self.offline, *artifacts)

    def publish(self, *artifacts: Path) -> None:
        self.kioskctl("publish", "--repo", self.repo, "--online-keys", self.online, *artifacts)

    def ship(self, version: str, *, health: str = "ok") -> str:
        """Build, sign and publish one release; its target path."""
        path = self.build(version, health=health)
        self.sign(path)
        self.publish(path)
        return f"kiosk/{path.name}"

    def served_file(self, target: str) -> Path:
        """The file the store serves for `target` (<dir>/<sha256>.<name>)."""
        directory, _, name = target.rpartition("/")
        found = list((self.repo / "targets" / directory).glob(f"*.{name}"))
        assert len(found) == 1, found
        return found[0]


@dataclass
class SlotTerminal:
    """One terminal's disk and kiosk for a real agent: `version` installed in slot a (current),
    a SlotKiosk running it, the restart hook, and its own run directory (KIOSK_RUN_DIR)."""

    root: Path
    run_dir: Path
    kiosk: SlotKiosk
    hook: Path

    @classmethod
    def install(cls, base: Path, version: str = "1.0.0", *,
                extra: dict[str, bytes] | None = None) -> SlotTerminal:
        """`extra`: more files in the installed release, as in `release`."""
        from fleet.agent.update.slots import Slots

        slots = Slots(base / "opt")
        slots.install("a", release(base / "build" / f"{version}.tar.gz", version, extra=extra),
                      version)
        slots.switch("a")
        run_dir = base / "run"
        run_dir.mkdir(parents=True)
        (run_dir / "running").write_text(f"{version}\n")
        (run_dir / "health").write_text("ok")
        return cls(base / "opt", run_dir, SlotKiosk(run_dir), restart_hook(base))

    def agent_env(self, repository_url: str, *, commit_deadline_s: float = 4.0,
                  poll_s: float = 0.2) -> dict[str, str]:
        """The agent's settings for this terminal, with the real (default) artifact client."""
        return {"AGENT_INSTALL_ROOT": str(self.root),
                "AGENT_UPDATE_REPOSITORY_URL": repository_url,
                "AGENT_RESTART_COMMAND": json.dumps([str(self.hook)]),
                "AGENT_COMMIT_DEADLINE_S": str(commit_deadline_s),
                "AGENT_UPDATE_POLL_S": str(poll_s), "KIOSK_RUN_DIR": str(self.run_dir)}

    def running(self) -> str:
        """What the kiosk runs now (the release the restart hook last started)."""
        return (self.run_dir / "running").read_text().strip()

    def restarts(self) -> list[str]:
        log = self.run_dir / "restarts.log"
        return log.read_text().split() if log.exists() else []
