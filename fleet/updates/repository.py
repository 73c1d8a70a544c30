"""The TUF repository on disk: what `kioskctl fleet artifacts init|sign|rotate|publish` do.

    <repo>/metadata/   N.root.json (every version, kept for ever) and root.json,
                       N.targets.json, N.snapshot.json, timestamp.json   (served)
    <repo>/targets/    <dir>/<sha256>.<name>: consistent snapshots      (served)
    <repo>/staged/     root.json, targets.json signed offline, not yet published
    <repo>/policy.json how long each role's metadata is valid

Offline steps (root and targets keys) only ever write `staged/`: `sign` stages a new targets
version listing the new artifacts, `rotate` a new root. The online step, `publish`, checks what
was staged as a terminal would (signatures against the trusted root and its thresholds,
versions only forward, nothing expired) and each uploaded artifact against the hash and length
its targets entry signs, copies the artifacts in, then signs a new snapshot and timestamp. With
nothing staged, `publish` only re-signs snapshot and timestamp: the job of the re-signing timer.

Files appear in the order a client reads them backwards (targets, then root, targets
metadata, snapshot, and timestamp.json last), so a client never sees a timestamp that points
at something not yet written.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from common.clock import Clock, utc_now
from common.files import write_atomically
from fleet.updates import reasons
from fleet.updates.build import TARGET_PATH_RE, BuildError, read_version
from fleet.updates.keys import (
    DEFAULT_POLICY,
    OFFLINE_ROLES,
    ROLES,
    KeysError,
    KeyStore,
    RolePolicy,
    bump,
    expiry,
    new_root,
    sign_role,
    sign_root,
)

SERIALIZER = JSONSerializer(compact=True)
DEFAULT_PREFIX = "kiosk"
_COPY_CHUNK = 1 << 20


class PublishRefused(reasons.Refused):
    """What was staged or uploaded would be refused by the terminals; nothing was published."""


class RepositoryStateError(Exception):
    """The repository directory is missing or not in the state the step needs."""


@dataclass(frozen=True)
class Published:
    root: int
    targets: int
    snapshot: int
    timestamp: int
    added: tuple[str, ...] = field(default=())


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy_in(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` atomically (temporary file beside it, fsync, rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def hashed_name(target: TargetFile) -> str:
    """Where a consistent-snapshot repository keeps a target: <dir>/<sha256>.<name>."""
    dirname, sep, basename = target.path.rpartition("/")
    return f"{dirname}{sep}{target.hashes['sha256']}.{basename}"


def _verify(delegator: Root, role: str, md: Metadata[Any], what: str) -> None:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        raw = json.dumps({"signatures": [s.to_dict() for s in md.signatures.values()]})
        reason = reasons.signature_reason(raw.encode())
        raise PublishRefused(reason, f"{what}: {exc}") from None


class Repository:
    def __init__(self, directory: Path, *, clock: Clock = utc_now) -> None:
        self.directory = directory
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"
        self.staged_dir = directory / "staged"
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------

    def _read(self, path: Path) -> Metadata[Any]:
        try:
            return Metadata.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise RepositoryStateError(f"{path} is missing: is {self.directory} a repository "
                                       "(kioskctl fleet artifacts init)?") from None

    def root(self) -> Metadata[Root]:
        return self._read(self.metadata_dir / "root.json")

    def timestamp(self) -> Metadata[Timestamp]:
        return self._read(self.metadata_dir / "timestamp.json")

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return self._read(self.metadata_dir / f"{version}.snapshot.json")

    def targets(self) -> Metadata[Targets]:
        version = self.snapshot().signed.meta["targets.json"].version
        return self._read(self.metadata_dir / f"{version}.targets.json")

    def staged(self, role: str) -> Metadata[Any] | None:
        path = self.staged_dir / f"{role}.json"
        return Metadata.from_bytes(path.read_bytes()) if path.exists() else None

    def policy(self) -> dict[str, RolePolicy]:
        try:
            days = json.loads((self.directory / "policy.json").read_text())["expires_days"]
        except FileNotFoundError:
            return dict(DEFAULT_POLICY)
        return {role: RolePolicy(DEFAULT_POLICY[role].keys, DEFAULT_POLICY[role].threshold,
                                 dt.timedelta(days=float(days[role]))) for role in ROLES}

    def trusted_root(self) -> Root:
        """The root that new signatures answer to: the staged one if a rotation is pending."""
        staged = self.staged("root")
        return (staged or self.root()).signed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # One writer at a time: the re-signing timer and an operator's publish.
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _write(self, path: Path, md: Metadata[Any]) -> bytes:
        raw = md.to_bytes(SERIALIZER)
        write_atomically(path, raw, mode=0o644)
        return raw

    # -- init --------------------------------------------------------------------------------

    @classmethod
    def init(cls, directory: Path, offline: KeyStore, online: KeyStore, *,
             policy: dict[str, RolePolicy] | None = None, clock: Clock = utc_now) -> Repository:
        """A new repository: fresh keys in both stores, root v1 and empty targets, published."""
        policy = {**DEFAULT_POLICY, **(policy or {})}
        repo = cls(directory, clock=clock)
        if (repo.metadata_dir / "root.json").exists():
            raise RepositoryStateError(f"{directory} already holds a repository")
        now = clock()
        root = Root(expires=expiry(now, policy["root"]), consistent_snapshot=True)
        for role in ROLES:
            store = offline if role in OFFLINE_ROLES else online
            for _ in range(policy[role].keys):
                root.add_key(store.generate(role).public_key, role)
            root.roles[role] = Role(root.roles[role].keyids, policy[role].threshold)
        root_md = sign_root(root, root, [offline])
        targets = Metadata(Targets(expires=expiry(now, policy["targets"])))
        sign_role(targets, "targets", root, [offline])
        with repo._locked():
            write_atomically(directory / "policy.json", json.dumps(
                {"expires_days": {r: policy[r].expires / dt.timedelta(days=1) for r in ROLES}},
                indent=1) + "\n", mode=0o644)
            repo.targets_dir.mkdir(parents=True, exist_ok=True)
            targets_raw = targets.to_bytes(SERIALIZER)
            root_raw = root_md.to_bytes(SERIALIZER)
            online_files = repo._sign_online(root, targets_raw, 1, [online],
                                             snapshot_version=1, timestamp_version=1)
            repo._write_all([("1.root.json", root_raw), ("root.json", root_raw),
                             ("1.targets.json", targets_raw), *online_files])
        return repo

    # -- offline: sign, rotate ---------------------------------------------------------------

    def sign(self, offline: Sequence[KeyStore], add: Sequence[Path] = (), *,
             prefix: str = DEFAULT_PREFIX, remove: Sequence[str] = ()) -> tuple[Metadata[Targets],
                                                                             int]:
        """Stage a targets version that lists `add` (as <prefix>/<file name>, with the VERSION
        each carries) and drops `remove`. With nothing to change and targets already staged,
        co-sign them (a threshold above one). Returns the staged targets and how many of the
        targets keys have signed them."""
        root = self.trusted_root()
        live = self.targets()
        staged = self.staged("targets")
        if staged is not None and (add or remove):
            raise RepositoryStateError("targets are staged and not yet published: publish them, "
                                       f"or delete {self.staged_dir / 'targets.json'}")
        if staged is not None:
            md = staged
        else:
            signed = copy.deepcopy(live.signed)
            for path in remove:
                if signed.targets.pop(path, None) is None:
                    raise RepositoryStateError(f"{path} is not a target")
            for file in add:
                name = f"{prefix}/{file.name}"
                if not TARGET_PATH_RE.match(name):
                    raise RepositoryStateError(f"{name!r} is not a target path (lower-case "
                                               "letters, digits, . _ -)")
                try:
                    version = read_version(file)
                except BuildError as exc:
                    raise RepositoryStateError(str(exc)) from None
                entry = TargetFile.from_file(name, str(file), ["sha256"])
                entry.unrecognized_fields["custom"] = {"version": version}
                old = signed.targets.get(name)
                if old is not None and old.hashes != entry.hashes:
                    # One name, one content: terminals that verified the old bytes must never
                    # meet other bytes under the same name. Release a new version instead.
                    raise RepositoryStateError(f"{name} is already signed with other content")
                signed.targets[name] = entry
            bump(signed, self._clock(), self.policy()["targets"])
            md = Metadata(signed)
        count = sign_role(md, "targets", root, offline, append=staged is not None, partial=True)
        self._write(self.staged_dir / "targets.json", md)
        return md, count

    def rotate(self, role: str, offline: KeyStore, online: KeyStore | None = None, *,
               revoke: Sequence[str] | None = None, add: int | None = None,
               threshold: int | None = None) -> Metadata[Root]:
        """Stage a root that replaces `role`'s keys: `revoke` (None: all of them) leave it,
        `add` new keys (default: as many as leave) are generated into the role's store
        (`offline` for root and targets, `online` for snapshot and timestamp). Signed by the
        old root's keys and the new ones; the revoked keys' files move to revoked/.
        A new targets key re-signs the targets at once (staged too)."""
        live = self.root().signed
        base = self.trusted_root()
        current = list(base.roles[role].keyids)
        leaving = list(current) if revoke is None else list(revoke)
        count = len(leaving) if add is None else add
        store = offline if role in OFFLINE_ROLES else online
        if store is None:
            raise KeysError(f"new {role} keys go into the online key store: give it")
        new_keys = [store.generate(role).public_key for _ in range(count)]
        nxt = new_root(base, role, version=live.version + 1,
                       expires=expiry(self._clock(), self.policy()["root"]),
                       add=new_keys, revoke=leaving, threshold=threshold)
        stores = [offline] + ([online] if online is not None else [])
        md = sign_root(nxt, live, stores)
        self._write(self.staged_dir / "root.json", md)
        for keyid in leaving:
            for s in stores:
                s.revoke(keyid)
        if role == "targets":
            staged = self.staged("targets")
            signed = copy.deepcopy((staged or self.targets()).signed)
            signed.version = self.targets().signed.version
            bump(signed, self._clock(), self.policy()["targets"])
            targets = Metadata(signed)
            sign_role(targets, "targets", nxt, [offline])
            self._write(self.staged_dir / "targets.json", targets)
        return md

    # -- online: publish ---------------------------------------------------------------------

    def _check_staged_root(self, live: Root, staged: Metadata[Root]) -> Root:
        new = staged.signed
        if new.version != live.version + 1:
            raise PublishRefused(reasons.ROLLBACK if new.version <= live.version
                                 else reasons.MIX_AND_MATCH,
                                 f"staged root is v{new.version}; the live root is "
                                 f"v{live.version}, so only v{live.version + 1} can follow")
        _verify(live, "root", staged, f"staged root v{new.version} (by the live root's keys)")
        _verify(new, "root", staged, f"staged root v{new.version} (by its own keys)")
        if new.is_expired(self._clock()):
            raise PublishRefused(reasons.FREEZE, f"staged root v{new.version} has expired")
        return new

    def _check_staged_targets(self, root: Root, live: Targets,
                              staged: Metadata[Targets]) -> Targets:
        new = staged.signed
        _verify(root, "targets", staged, f"staged targets v{new.version}")
        if new.version <= live.version:
            raise PublishRefused(reasons.ROLLBACK, f"staged targets v{new.version} is not "
                                 f"newer than the published v{live.version}")
        if new.is_expired(self._clock()):
            raise PublishRefused(reasons.FREEZE, f"staged targets v{new.version} has expired")
        for path in new.targets:
            if not TARGET_PATH_RE.match(path):
                raise PublishRefused(reasons.TAMPERED, f"{path[:80]!r} is not a target path")
        return new

    def _match_uploads(self, targets: Targets, uploads: Sequence[Path]
                       ) -> dict[str, tuple[TargetFile, Path]]:
        """Each uploaded file against its signed entry (the upload check of the issue)."""
        by_name = {t.path.rpartition("/")[2]: t for t in targets.targets.values()}
        matched: dict[str, tuple[TargetFile, Path]] = {}
        for file in uploads:
            entry = by_name.get(file.name)
            if entry is None:
                raise PublishRefused(reasons.UNSIGNED, f"{file.name} is in no signed targets "
                                     "metadata: sign it first (kioskctl fleet artifacts sign)")
            length, sha = _hash_file(file)
            if length != entry.length or sha != entry.hashes.get("sha256"):
                raise PublishRefused(reasons.TAMPERED, f"{file.name}: {length} bytes, sha256 "
                                     f"{sha[:16]}…; signed were {entry.length} bytes, "
                                     f"{entry.hashes.get('sha256', '?')[:16]}…")
            custom = entry.custom if isinstance(entry.custom, dict) else {}
            try:
                carried = read_version(file)
            except BuildError as exc:
                raise PublishRefused(reasons.TAMPERED, str(exc)) from None
            if carried != custom.get("version"):
                raise PublishRefused(reasons.TAMPERED, f"{file.name} carries VERSION "
                                     f"{carried}, signed as {custom.get('version')!r}")
            matched[entry.path] = (entry, file)
        return matched

    def publish(self, online: Sequence[KeyStore], uploads: Sequence[Path] = ()) -> Published:
        """Publish what is staged (checked), with `uploads`; re-sign snapshot and timestamp."""
        with self._locked():
            live_root = self.root().signed
            staged_root = self.staged("root")
            root = live_root if staged_root is None else self._check_staged_root(live_root,
                                                                                 staged_root)
            live_targets = self.targets()
            staged_targets = self.staged("targets")
            if staged_targets is not None:
                targets_md = staged_targets
                self._check_staged_targets(root, live_targets.signed, staged_targets)
            else:
                targets_md = live_targets
                # The live targets must still satisfy a rotated root: a new targets key
                # means targets signed with it must come along (rotate stages them).
                try:
                    root.verify_delegate("targets", targets_md.signed_bytes,
                                         targets_md.signatures)
                except UnsignedMetadataError:
                    raise PublishRefused(reasons.UNKNOWN_KEY, "the published targets are not "
                                         "signed by the staged root's targets keys: sign "
                                         "them again (kioskctl fleet artifacts sign)") from None
            matched = self._match_uploads(targets_md.signed, uploads)
            for entry in targets_md.signed.targets.values():
                if entry.path in matched or (self.targets_dir / hashed_name(entry)).is_file():
                    continue
                raise PublishRefused(reasons.NOT_FOUND, f"{entry.path} is signed but its file "
                                     "was not uploaded: give it to publish")
            snap_v = self.snapshot().signed.version + 1
            ts_v = self.timestamp().signed.version + 1
            targets_raw = targets_md.to_bytes(SERIALIZER)
            targets_v = targets_md.signed.version
            # Signed first: missing online keys stop it before anything is written.
            online_files = self._sign_online(root, targets_raw, targets_v, online,
                                             snapshot_version=snap_v, timestamp_version=ts_v)
            for entry, file in matched.values():
                dest = self.targets_dir / hashed_name(entry)
                if not dest.is_file():
                    _copy_in(file, dest)
            files: list[tuple[str, bytes]] = []
            if staged_root is not None:
                root_raw = staged_root.to_bytes(SERIALIZER)
                files += [(f"{root.version}.root.json", root_raw), ("root.json", root_raw)]
            if staged_targets is not None:
                files.append((f"{targets_v}.targets.json", targets_raw))
            self._write_all([*files, *online_files])
            for name in ("root.json", "targets.json"):
                with contextlib.suppress(FileNotFoundError):
                    (self.staged_dir / name).unlink()
            return Published(root.version, targets_v, snap_v, ts_v, tuple(sorted(matched)))

    def _sign_online(self, root: Root, targets_raw: bytes, targets_version: int,
                     online: Sequence[KeyStore], *, snapshot_version: int,
                     timestamp_version: int) -> list[tuple[str, bytes]]:
        """Snapshot and timestamp for `targets`, signed (KeysError before anything is
        written); returns the files to write, in order."""
        now = self._clock()
        policy = self.policy()
        snapshot = Metadata(Snapshot(
            version=snapshot_version, expires=expiry(now, policy["snapshot"]),
            meta={"targets.json": MetaFile.from_data(targets_version, targets_raw, ["sha256"])}))
        sign_role(snapshot, "snapshot", root, online)
        snapshot_raw = snapshot.to_bytes(SERIALIZER)
        timestamp = Metadata(Timestamp(
            version=timestamp_version, expires=expiry(now, policy["timestamp"]),
            snapshot_meta=MetaFile.from_data(snapshot_version, snapshot_raw, ["sha256"])))
        sign_role(timestamp, "timestamp", root, online)
        return [(f"{snapshot_version}.snapshot.json", snapshot_raw),
                ("timestamp.json", timestamp.to_bytes(SERIALIZER))]

    def _write_all(self, files: Sequence[tuple[str, bytes]]) -> None:
        for name, raw in files:
            write_atomically(self.metadata_dir / name, raw, mode=0o644)
