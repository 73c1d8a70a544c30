"""A private PostgreSQL server for the edge and registry tests (Debian's `postgresql`,
installed by scripts/setup): its own data directory, a free port, stopped at the end.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

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


class FreshDatabases:
    """Fresh databases on one server, each a copy of a template prepared once.

    `CREATE DATABASE ... TEMPLATE` copies files: a few tens of milliseconds, where running the
    migrations again for every test would take a second or more. `prepare(url)` builds the
    template's schema (e.g. the edge's migrations) on first use; the template then has no open
    connection, which PostgreSQL requires of a template.
    """

    def __init__(self, server_url: str, name: str, prepare: Callable[[str], None]) -> None:
        self._server = make_url(server_url)
        self._template = f"{name}_template"
        self._name = name
        self._prepare = prepare
        self._lock = threading.Lock()
        self._ready = False
        self._count = itertools.count(1)

    def _url(self, database: str) -> str:
        return self._server.set(database=database).render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        # CREATE/DROP DATABASE cannot run in a transaction: autocommit, on the server's own db.
        conninfo = self._url(self._server.database or "postgres").replace("+psycopg", "")
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=30) as conn:
            conn.execute(sql)  # type: ignore[arg-type] - names are ours, not a client's

    def _ensure_template(self) -> None:
        with self._lock:
            if self._ready:
                return
            self._admin(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self._template}"')
            self._prepare(self._url(self._template))
            self._ready = True

    @contextlib.contextmanager
    def fresh(self) -> Iterator[str]:
        """Yields the URL of a new database with the template's schema; dropped afterwards,
        even with connections still open (a test that failed half-way)."""
        self._ensure_template()
        database = f"{self._name}_{os.getpid()}_{next(self._count)}"
        self._admin(f'CREATE DATABASE "{database}" TEMPLATE "{self._template}"')
        try:
            yield self._url(database)
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
