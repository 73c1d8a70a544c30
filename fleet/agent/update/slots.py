"""Two slots (A/B) under an install root, and the `current` link that says which one runs.

    <root>/a/, <root>/b/     a release each: a VERSION file and whatever runs
    <root>/current -> a      the slot that runs (the kiosk's service starts <root>/current/...)
    <root>/previous -> b     the slot that ran before the last switch (the rollback target)

A link is switched by renaming a new link over it (rename(2) is atomic): after a power cut it
points at the old slot or the new, never at nothing. Only the slot that is not current is ever
written, and a slot counts as installed only once its `.installed` marker exists, written after
every file and directory of it was fsynced; `switch` refuses a slot without it. So `current`
never points at a half-written slot.

Archives are hostile input even when verified (a signing mistake, a compromised build): members
that leave the slot (absolute, `..`, through or to a link outside), anything but files,
directories and links inside, and archives past the size limits are refused.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from common.files import write_atomically
from fleet.agent.commands.update import VERSION_PATTERN

SLOTS = ("a", "b")
CURRENT = "current"
PREVIOUS = "previous"
MARKER = ".installed"
VERSION_FILE = "VERSION"
_COPY_CHUNK = 1 << 20


class SlotError(Exception):
    """The install could not complete (the slot stays uninstalled; nothing switched)."""


class UnsafeArchive(SlotError):
    """The archive holds something that may not be unpacked."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2 << 30  # unpacked, all files together
    max_members: int = 100_000


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Slots:
    def __init__(self, root: Path, limits: Limits = Limits()) -> None:
        self.root = root
        self.limits = limits

    def path(self, slot: str) -> Path:
        if slot not in SLOTS:
            raise ValueError(f"no slot {slot!r}")
        return self.root / slot

    # -- reading ------------------------------------------------------------------------------

    def _link(self, name: str) -> str | None:
        try:
            target = os.readlink(self.root / name)
        except OSError:
            return None
        return target if target in SLOTS else None

    def current(self) -> str | None:
        return self._link(CURRENT)

    def previous(self) -> str | None:
        return self._link(PREVIOUS)

    def other(self, slot: str | None) -> str:
        """The slot that is not `slot` (the first when there is none)."""
        return SLOTS[1] if slot == SLOTS[0] else SLOTS[0]

    def version(self, slot: str | None) -> str | None:
        """The installed release's version in `slot`, or None (empty, half-written, unreadable)."""
        if slot is None:
            return None
        base = self.path(slot)
        try:
            marker = (base / MARKER).read_text(encoding="utf-8").strip()
            with (base / VERSION_FILE).open("rb") as fh:
                version = fh.read(128).decode("utf-8", "replace").strip()
        except OSError:
            return None
        return version if version == marker and VERSION_PATTERN.match(version) else None

    def runnable(self, slot: str | None) -> bool:
        return self.version(slot) is not None

    def current_version(self) -> str | None:
        return self.version(self.current())

    # -- writing ------------------------------------------------------------------------------

    def _set_link(self, name: str, slot: str) -> None:
        link = self.root / name
        with contextlib.suppress(OSError):
            if os.readlink(link) == slot:
                return
        tmp = self.root / f".{name}.{secrets.token_hex(4)}"
        os.symlink(slot, tmp)  # relative: the install root may move
        try:
            os.replace(tmp, link)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.root)

    def switch(self, slot: str) -> None:
        """Make `slot` current (idempotent); the slot current until now becomes `previous`."""
        if not self.runnable(slot):
            raise SlotError(f"slot {slot} holds no installed release")
        old = self.current()
        if old is not None and old != slot:
            self._set_link(PREVIOUS, old)  # first: a cut in between leaves both on `old`
        self._set_link(CURRENT, slot)

    def install(self, slot: str, archive: Path, version: str,
                on_member: Callable[[], None] | None = None) -> None:
        """Unpack `archive` (.tar.gz) into `slot`, which must not be current; raises SlotError.
        `on_member` is called after each member is written."""
        if slot == self.current():
            raise SlotError(f"slot {slot} is current; only the other slot is written")
        base = self.path(slot)
        self.root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (base / MARKER).unlink()  # first: from here on the slot is not installed
            _fsync_dir(base)
        if base.is_symlink() or base.is_file():
            base.unlink()
        elif base.exists():
            shutil.rmtree(base)
        base.mkdir()
        try:
            self._unpack(archive, base, on_member or (lambda: None))
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise SlotError(f"cannot unpack {archive.name}: {exc}") from exc
        got = self._read_version(base)
        if got != version:
            raise SlotError(f"the archive's VERSION is {got!r}, not {version!r}")
        write_atomically(base / MARKER, version + "\n", mode=0o644)
        _fsync_dir(self.root)

    @staticmethod
    def _read_version(base: Path) -> str | None:
        try:
            with (base / VERSION_FILE).open("rb") as fh:
                return fh.read(128).decode("utf-8", "replace").strip()
        except OSError:
            return None

    def _unpack(self, archive: Path, base: Path, on_member: Callable[[], None]) -> None:
        real_base = base.resolve()
        total = 0
        dirs = {real_base}
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > self.limits.max_members:
                    raise UnsafeArchive(f"more than {self.limits.max_members} members")
                rel = _member_path(member.name)
                if rel is None:
                    continue  # the archive's root directory itself
                dest = base.joinpath(*rel.parts)
                # The parent must be where it says: never write through a link.
                parent = dest.parent.resolve()
                if parent != real_base.joinpath(*rel.parts[:-1]):
                    raise UnsafeArchive(f"{member.name!r} goes through a link")
                if not dest.parent.is_dir():  # an archive without its directories' entries
                    dest.parent.mkdir(mode=0o755, parents=True)
                    dirs.update(dest.parents[i] for i in range(len(rel.parts) - 1))
                if member.isdir():
                    dest.mkdir(mode=0o755, exist_ok=True)
                    dirs.add(dest)
                elif member.issym():
                    _check_link(member, rel)
                    os.symlink(member.linkname, dest)
                elif member.isreg():
                    total += member.size
                    if total > self.limits.max_bytes:
                        raise UnsafeArchive(f"unpacks to more than {self.limits.max_bytes} bytes")
                    self._write_file(tar, member, dest)
                else:  # hard links, devices, fifos
                    raise UnsafeArchive(f"{member.name!r} is not a file, directory or link")
                on_member()
        for d in dirs:
            _fsync_dir(d)

    @staticmethod
    def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
        source = tar.extractfile(member)
        assert source is not None
        # Executable bits kept, nothing else (no setuid, no world-writable files).
        mode = 0o755 if member.mode & 0o111 else 0o644
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out, source:
            left = member.size
            while left > 0:
                chunk = source.read(min(_COPY_CHUNK, left))
                if not chunk:
                    raise SlotError(f"{member.name!r} is truncated")
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())


def _member_path(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchive(f"{name!r} leaves the slot")
    parts = [p for p in path.parts if p != "."]
    if not parts:
        return None
    return PurePosixPath(*parts)


def _check_link(member: tarfile.TarInfo, rel: PurePosixPath) -> None:
    target = PurePosixPath(member.linkname)
    if target.is_absolute():
        raise UnsafeArchive(f"{member.name!r} links outside the slot")
    depth = len(rel.parts) - 1  # directories above the link, inside the slot
    for part in target.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise UnsafeArchive(f"{member.name!r} links outside the slot")
