"""Atomic file writes: the one home for "a power cut leaves the old content or the new"."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes | str, *, mode: int = 0o600) -> None:
    """Replace `path` with `data`: written to a temporary file beside it, fsynced, renamed.

    Readers see the old content or the new, never half of one. `mode` applies from the first
    byte (the temporary file is created with it), so a secret is never briefly world-readable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def create_once(path: Path, data: bytes, *, mode: int = 0o600) -> bool:
    """Create `path` with `data` unless it exists; True when this call created it.

    Written to a temporary file and hard-linked into place, so two processes starting at once
    agree on one content and nobody ever reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False  # another process won the race; its content stands
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)
    return True
