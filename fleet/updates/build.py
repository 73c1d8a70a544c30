"""`kioskctl fleet artifacts build`: a release archive, the same bytes for the same inputs.

The archive (.tar.gz) holds what a slot holds (fleet/agent/update/slots.py): `VERSION` first,
then the slot's files, directories and relative links that stay inside it. Owners, times and
modes are normalised (root, SOURCE_DATE_EPOCH or 0, 0644/0755) and entries sorted, so two
builds of one tree give one SHA-256: the hash signed in the TUF targets is then the build's.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

VERSION_FILE = "VERSION"
# 1.4.0, 1.4.0-rc1, 2.0.0+hall3: what packaging.version and a person both read.
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+){1,3}([.+-][0-9A-Za-z][0-9A-Za-z.+-]{0,39})?$")
MAX_VERSION_BYTES = 64
# A TUF target path: lower-case directories and a file name, nothing a URL or a shell reads
# twice (kiosk/hrss-kiosk-1.4.0.tar.gz).
TARGET_PATH_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,3}$")
# VERSION must come early: a reader does not walk a whole archive to find it.
VERSION_WITHIN_MEMBERS = 8


class BuildError(Exception):
    """The source tree or an archive is not a release (say which entry and why)."""


def release_name(version: str, product: str = "hrss-kiosk") -> str:
    return f"{product}-{version}.tar.gz"


def check_version(version: str) -> str:
    if not VERSION_RE.match(version):
        raise BuildError(f"not a release version: {version[:40]!r} (e.g. 1.4.0 or 1.4.0-rc1)")
    return version


def _info(name: str, *, kind: bytes, mode: int, mtime: int, size: int = 0,
          link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.size = size
    info.linkname = link
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _link_inside(rel: PurePosixPath, target: str) -> bool:
    if PurePosixPath(target).is_absolute():
        return False
    depth = len(rel.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return False
    return True


def _entries(source: Path) -> list[tuple[PurePosixPath, Path]]:
    found: list[tuple[PurePosixPath, Path]] = []
    for top, dirs, files in os.walk(source, followlinks=False):
        dirs.sort()
        here = Path(top)
        for name in sorted([*dirs, *files]):
            path = here / name
            found.append((PurePosixPath(path.relative_to(source).as_posix()), path))
    return sorted(found)


def build_release(source: Path, version: str, out: Path, *, mtime: int | None = None) -> Path:
    """Write the release archive of `source` as `version` to `out` (atomically)."""
    check_version(version)
    if not source.is_dir():
        raise BuildError(f"{source} is not a directory")
    if mtime is None:
        mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    own = source / VERSION_FILE
    if own.is_file() and own.read_text("utf-8", "replace").strip() != version:
        raise BuildError(f"{own} says {own.read_text('utf-8', 'replace').strip()[:40]!r}, "
                         f"not {version!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            body = f"{version}\n".encode()
            tar.addfile(_info(VERSION_FILE, kind=tarfile.REGTYPE, mode=0o644, mtime=mtime,
                              size=len(body)), io.BytesIO(body))
            for rel, path in _entries(source):
                if rel == PurePosixPath(VERSION_FILE):
                    continue
                st = path.lstat()
                name = rel.as_posix()
                if stat.S_ISLNK(st.st_mode):
                    target = os.readlink(path)
                    if not _link_inside(rel, target):
                        raise BuildError(f"{name} links outside the release ({target!r})")
                    tar.addfile(_info(name, kind=tarfile.SYMTYPE, mode=0o777, mtime=mtime,
                                      link=target))
                elif stat.S_ISDIR(st.st_mode):
                    tar.addfile(_info(name, kind=tarfile.DIRTYPE, mode=0o755, mtime=mtime))
                elif stat.S_ISREG(st.st_mode):
                    mode = 0o755 if st.st_mode & 0o111 else 0o644
                    with path.open("rb") as fh:
                        tar.addfile(_info(name, kind=tarfile.REGTYPE, mode=mode, mtime=mtime,
                                          size=st.st_size), fh)
                else:
                    raise BuildError(f"{name} is not a file, directory or link")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out


def read_version(archive: Path) -> str:
    """The VERSION an archive carries; BuildError if it has none among its first members."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > VERSION_WITHIN_MEMBERS:
                    break
                if member.name.removeprefix("./") != VERSION_FILE:
                    continue
                if not member.isreg() or member.size > MAX_VERSION_BYTES:
                    raise BuildError(f"{archive.name}: VERSION is not a short file")
                fh = tar.extractfile(member)
                assert fh is not None
                return check_version(fh.read(MAX_VERSION_BYTES).decode("utf-8", "replace")
                                     .strip())
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BuildError(f"{archive.name} is not a release archive: {exc}") from None
    raise BuildError(f"{archive.name} has no VERSION among its first "
                     f"{VERSION_WITHIN_MEMBERS} entries")
