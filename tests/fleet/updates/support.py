"""The artifact store's test rig: a real repository on disk, the real server in its own
process (`kioskctl fleet artifacts serve`), a terminal's client, and real TCP peers that cut or
stall a download part-way. Attackers are built from the tuf API and stolen key files."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from common.clock import Deadline, utc_now
from fleet.updates.build import build_release
from fleet.updates.client import ArtifactClient, UpdateRefused, VerifiedArtifact, provision_root
from fleet.updates.keys import KeyStore
from fleet.updates.repository import Repository

ROOT = Path(__file__).resolve().parents[3]
KIOSKCTL = str(Path(sys.executable).with_name("kioskctl"))
COMPACT = JSONSerializer(compact=True)


@dataclass
class Store:
    """A repository with its two key stores, and the releases it has published."""

    base: Path
    offline: KeyStore
    online: KeyStore
    repo: Repository
    built: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path) -> Store:
        offline, online = KeyStore(base / "keys" / "offline"), KeyStore(base / "keys" / "online")
        return cls(base, offline, online, Repository.init(base / "repo", offline, online))

    def build(self, version: str, payload: bytes = b"") -> Path:
        src = self.base / "src" / version
        (src / "bin").mkdir(parents=True, exist_ok=True)
        (src / "bin" / "kiosk").write_text("#!/bin/sh\necho kiosk\n")
        (src / "bin" / "kiosk").chmod(0o755)
        (src / "payload.bin").write_bytes(payload or version.encode() * 100)
        path = build_release(src, version, self.base / "dist" / f"hrss-kiosk-{version}.tar.gz")
        self.built[version] = path
        return path

    def release(self, version: str, payload: bytes = b"") -> Path:
        """Build, sign (offline keys) and publish (online keys) one release."""
        path = self.build(version, payload)
        self.repo.sign([self.offline], [path])
        self.repo.publish([self.online], [path])
        return path

    def freeze_state(self, name: str) -> Path:
        """A copy of what the repository serves now (metadata/ and targets/)."""
        dest = self.base / "states" / name
        for sub in ("metadata", "targets"):
            shutil.copytree(self.repo.directory / sub, dest / sub)
        return dest

    def signer(self, role: str, *, revoked: bool = False) -> CryptoSigner:
        """The (first) private key of `role` from the stores: what a thief would hold."""
        store = self.offline if role in ("root", "targets") else self.online
        folder = store.directory / ("revoked" if revoked else "") / role
        keyid = sorted(p.stem for p in folder.glob("*.pem"))[0]
        found = store.signer(keyid, revoked=revoked)
        assert found is not None
        return found


class Mirror:
    """The directory the server process serves; a test fills it with a repository's state,
    honest or forged, between fetches (the server reads files per request)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        (directory / "metadata").mkdir(parents=True, exist_ok=True)
        (directory / "targets").mkdir(parents=True, exist_ok=True)

    def show(self, state: Path) -> None:
        for sub in ("metadata", "targets"):
            shutil.rmtree(self.directory / sub, ignore_errors=True)
            shutil.copytree(state / sub, self.directory / sub)

    @property
    def metadata(self) -> Path:
        return self.directory / "metadata"

    def read(self, name: str) -> Metadata:
        return Metadata.from_bytes((self.metadata / name).read_bytes())

    def write(self, name: str, md: Metadata) -> bytes:
        raw = md.to_bytes(COMPACT)
        (self.metadata / name).write_bytes(raw)
        return raw

    def target_file(self, info_path: str) -> Path:
        """The served file of a target (hash-prefixed name)."""
        md = self.read(f"{self.current_targets_version()}.targets.json")
        entry: TargetFile = md.signed.targets[info_path]
        d, _, name = info_path.rpartition("/")
        return self.directory / "targets" / d / f"{entry.hashes['sha256']}.{name}"

    def current_targets_version(self) -> int:
        ts = self.read("timestamp.json")
        snap = self.read(f"{ts.signed.snapshot_meta.version}.snapshot.json")
        return snap.signed.meta["targets.json"].version

    def forge(self, targets: Metadata[Targets], *, snapshot_key: CryptoSigner,
              timestamp_key: CryptoSigner, bump: int = 1) -> None:
        """Serve `targets` (signed by whoever), with a snapshot and timestamp `bump` versions
        ahead signed by `snapshot_key` and `timestamp_key` (honest or stolen)."""
        ts_old = self.read("timestamp.json").signed
        t_raw = self.write(f"{targets.signed.version}.targets.json", targets)
        expires = (utc_now() + dt.timedelta(days=1)).replace(microsecond=0)
        snap = Metadata(Snapshot(version=ts_old.snapshot_meta.version + bump,
                                 expires=expires + dt.timedelta(days=6),
                                 meta={"targets.json": MetaFile.from_data(
                                     targets.signed.version, t_raw, ["sha256"])}))
        snap.sign(snapshot_key)
        s_raw = self.write(f"{snap.signed.version}.snapshot.json", snap)
        ts = Metadata(Timestamp(version=ts_old.version + bump, expires=expires,
                                snapshot_meta=MetaFile.from_data(snap.signed.version, s_raw,
                                                                 ["sha256"])))
        ts.sign(timestamp_key)
        self.write("timestamp.json", ts)

    def targets_with(self, artifact: Path, version: str, *, prefix: str = "kiosk",
                     bump: int = 1) -> Metadata[Targets]:
        """The served targets plus `artifact` (its file copied in), version bumped, unsigned."""
        md = self.read(f"{self.current_targets_version()}.targets.json")
        md.signatures.clear()
        entry = TargetFile.from_file(f"{prefix}/{artifact.name}", str(artifact), ["sha256"])
        entry.unrecognized_fields["custom"] = {"version": version}
        md.signed.targets[entry.path] = entry
        md.signed.version += bump
        dest = self.directory / "targets" / prefix / f"{entry.hashes['sha256']}.{artifact.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact, dest)
        return md


@contextlib.contextmanager
def served(directory: Path, *, deadline_s: float | None = None) -> Iterator[str]:
    """`kioskctl fleet artifacts serve` on a free port; yields its base URL."""
    argv = [KIOSKCTL, "fleet", "artifacts", "serve", "--repo", str(directory), "--port", "0"]
    if deadline_s is not None:
        argv += ["--request-deadline-s", str(deadline_s)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = _announced(proc, Deadline(30))
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _announced(proc: subprocess.Popen, deadline: Deadline) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    while not deadline.expired:
        if not sel.select(deadline.remaining()):
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if " on http://" in line:
                return line.split(" on ", 1)[1].split()[0].rstrip("/")
    err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
    raise AssertionError(f"the artifact server did not start: {buf!r} {err[-2000:]}")


def terminal(base: Path, url: str, store: Store, *, timeout_s: float = 10.0,
             **kwargs: object) -> ArtifactClient:
    """A terminal provisioned with the store's first root (it walks the chain from there)."""
    provision_root(base / "tuf", (store.repo.metadata_dir / "1.root.json").read_bytes())
    return ArtifactClient(base / "tuf", url, base / "downloads", timeout_s=timeout_s,
                          **kwargs)  # type: ignore[arg-type]


def refusal(client: ArtifactClient, target: str, seconds: float = 20.0) -> UpdateRefused:
    try:
        got: VerifiedArtifact = client.fetch(target, Deadline(seconds))
    except UpdateRefused as exc:
        return exc
    raise AssertionError(f"fetched {got} instead of being refused")


class CuttingProxy:
    """A real TCP proxy to `upstream` that records each request head and, for the first
    `cuts` target downloads, forwards only `after` bytes of the answer: then it closes the
    connection (`stall=False`) or keeps it open sending nothing (`stall=True`)."""

    def __init__(self, upstream: str, *, after: int, cuts: int = 1, stall: bool = False) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self.after, self.cuts, self.stall = after, cuts, stall
        self.heads: list[str] = []
        self.statuses: list[str] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream, timeout=10) as up:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            text = head.decode("latin-1")
            with self._lock:
                self.heads.append(text)
                cut = "/targets/" in text.split("\r\n", 1)[0] and self.cuts > 0
                if cut:
                    self.cuts -= 1
            # One request per connection keeps the bookkeeping honest.
            up.sendall(head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
            sent = 0
            first = True
            while True:
                data = up.recv(65536)
                if not data:
                    return
                if first:
                    with self._lock:
                        self.statuses.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    first = False
                if cut and sent + len(data) > self.after:
                    client.sendall(data[: self.after - sent])
                    if self.stall:
                        self._stop.wait()  # holds the connection open, silent
                    return
                client.sendall(data)
                sent += len(data)

    def range_requests(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for h in self.heads for line in h.split("\r\n")
                if line.lower().startswith("range:")]


def elapsed(since: float) -> float:
    return time.monotonic() - since
