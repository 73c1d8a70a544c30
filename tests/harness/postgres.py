"""A private PostgreSQL server for the edge and registry tests (Debian's `postgresql`,
installed by scripts/setup): its own data directory, a free port, stopped at the end.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from simulators.stack.ports import free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise AssertionError(f"{name} not found: run scripts/setup (it installs postgresql)")
    return found


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], *, check: bool = True) -> None:
    subprocess.run(_as_server_user(argv), check=check, capture_output=True, timeout=120)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a SQLAlchemy URL (psycopg) of an empty database on a fresh server."""
    # Not pytest's tmp_path: the server user must be able to enter it.
    root = Path(tempfile.mkdtemp(prefix="hrss-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    _run([_binary("initdb"), "-D", str(data), "-U", "hrss", "--auth=trust", "-E", "UTF8"])
    try:
        _run([_binary("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
              "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        try:
            yield f"postgresql+psycopg://hrss@127.0.0.1:{port}/postgres"
        finally:
            _run([_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
