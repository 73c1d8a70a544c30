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
