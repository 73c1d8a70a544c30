"""Helpers for the edge server's tests: the contract's token, citizens to test with, a clock,
and an edge wired to a real central simulator app in-process."""

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from common.sqlite import is_sqlite
from edge_server.main import create_app
from edge_server.settings import EdgeSettings
from simulators.central.api import create_app as create_central_app
from simulators.central.config import CentralSimConfig

HALL_SECRET = "test-hall-secret-0123456789"
CENTRAL_KEY = "test-central-key"
TODAY = dt.date(2026, 11, 22)
PROBLEM = "application/problem+json"


# Past every clock the tests use (the fake clock's 2026-11-22 and the real one).
TOKEN_EXPIRY = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def contract_token(device_id: str, hall_secret: str = HALL_SECRET,
                   expires_at: dt.datetime = TOKEN_EXPIRY) -> str:
    """A dev2 token written from edge-api.md, independently of common.device_token."""
    expires = int(expires_at.timestamp())
    mac = hmac.new(hall_secret.encode(), f"hrss-kiosk device v2:{device_id}.{expires}".encode(),
                   hashlib.sha256).digest()
    return f"dev2.{device_id}.{expires}." + _b64(mac)


def contract_dev1_token(device_id: str, hall_secret: str = HALL_SECRET) -> str:
    """The previous release's token (no expiry), from edge-api.md."""
    mac = hmac.new(hall_secret.encode(), f"hrss-kiosk device v1:{device_id}".encode(),
                   hashlib.sha256).digest()
    return f"dev1.{device_id}." + _b64(mac)


def headers(device_id: str = "kiosk-01", key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {contract_token(device_id)}"}
    if key is not None:
        out["Idempotency-Key"] = key
    return out


def new_key() -> str:
    return str(uuid.uuid4())


def card_body(citizen: dict, card_number: str | None = None) -> dict:
    card = citizen["card"]
    return {"method": "card", "card": {
        "citizen_id": citizen["citizen_id"], "name": citizen["name"],
        "card_number": card_number or card["card_number"],
        "card_id_code": card["card_id_code"], "spec_version": citizen["spec_version"]}}


class FakeClock:
    """UTC time that moves only when a test says so."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class CentralLink(httpx.BaseTransport):
    """The edge's way to the simulator app; `down = True` makes every connection fail, as a
    killed or unreachable central platform would."""

    def __init__(self, central: TestClient) -> None:
        self.central = central
        self.down = False
        self.calls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        response = self.central.request(
            request.method, request.url.path, content=request.content,
            headers=dict(request.headers))
        return httpx.Response(response.status_code, headers=response.headers,
                              content=response.content)


@dataclass
class Hall:
    """An edge app (TestClient) and the central simulator it talks to."""

    edge: TestClient
    central: TestClient
    link: CentralLink
    clock: FakeClock
    settings: EdgeSettings
    data_dir: Path

    # -- test data ---------------------------------------------------------------------------
    def citizens(self, **filters) -> Iterator[dict]:
        offset = 0
        while offset is not None:
            page = self.central.get("/sim/v1/citizens",
                                    params={"offset": offset, "limit": 100, **filters}).json()
            yield from page["items"]
            offset = page["next_offset"]

    def citizen(self, n: int = 0, **filters) -> dict:
        return next(itertools.islice(self.citizens(**filters), n, None))

    def detail(self, index: int) -> dict:
        return self.central.get(f"/sim/v1/citizens/{index}").json()

    # -- the edge's database, on either backend ----------------------------------------------
    @property
    def backend(self) -> str:
        return "sqlite" if is_sqlite(self.settings.database_url) else "postgresql"

    @property
    def engine(self) -> Engine:
        return self.edge.app.state.edge.engine

    def sql(self, statement: str, **params: object) -> list[tuple]:
        """Plain SQL on the edge's database, in its own committed transaction (what a test
        would do with sqlite3 on the file: count rows, tamper with one)."""
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []

    def count(self, table: str) -> int:
        return self.sql(f"SELECT COUNT(*) FROM {table}")[0][0]

    def database_bytes(self) -> bytes:
        """Every byte the database keeps on disk for the edge: SQLite's file and its WAL, or
        PostgreSQL's files of this database after a checkpoint (the server-wide WAL is left out:
        it also holds other tests' databases)."""
        if self.backend == "sqlite":
            return b"".join(p.read_bytes() for p in sorted(self.data_dir.glob("edge.db*")))
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))  # the shared buffers' pages into the files
            root = conn.execute(text("SHOW data_directory")).scalar_one()
            oid = conn.execute(text(
                "SELECT oid FROM pg_database WHERE datname = current_database()")).scalar_one()
        files = sorted(p for p in (Path(root) / "base" / str(oid)).iterdir() if p.is_file())
        return b"".join(p.read_bytes() for p in files)

    # -- faults ------------------------------------------------------------------------------
    def outage(self, on: bool = True) -> None:
        assert self.central.put("/sim/v1/faults", json={"outage": on}).status_code == 200

    # -- edge calls --------------------------------------------------------------------------
    def open(self, citizen: dict, device: str = "kiosk-01", key: str | None = None,
             card_number: str | None = None) -> httpx.Response:
        return self.edge.post("/api/v1/sessions", json=card_body(citizen, card_number),
                              headers=headers(device, key or new_key()))

    def get(self, session_id: str, device: str = "kiosk-01") -> httpx.Response:
        return self.edge.get(f"/api/v1/sessions/{session_id}", headers=headers(device))

    def benefits(self, session_id: str, device: str = "kiosk-01") -> httpx.Response:
        return self.edge.get(f"/api/v1/sessions/{session_id}/benefits", headers=headers(device))

    def end(self, session_id: str, device: str = "kiosk-01",
            key: str | None = None) -> httpx.Response:
        return self.edge.delete(f"/api/v1/sessions/{session_id}",
                                headers=headers(device, key or new_key()))


@contextmanager
def hall(tmp_path: Path, *, raise_server_exceptions: bool = True,
         **settings_overrides) -> Iterator[Hall]:
    """`raise_server_exceptions=False`: a server error answers 500 as in production, for tests
    that look for them."""
    clock = FakeClock()
    config = CentralSimConfig(seed=42, population=5000, api_key=CENTRAL_KEY, today=TODAY)
    central = TestClient(create_central_app(config, clock=clock), base_url="http://central")
    link = CentralLink(central)
    settings = EdgeSettings(**{
        "data_dir": tmp_path / "edge", "central_url": "http://central",
        "central_api_key": CENTRAL_KEY, "hall_secret": HALL_SECRET, **settings_overrides})
    app = create_app(
        settings, central_http=httpx.Client(base_url="http://central", transport=link),
        clock=clock, background=False)
    with central, TestClient(app, raise_server_exceptions=raise_server_exceptions) as edge:
        yield Hall(edge, central, link, clock, settings, tmp_path / "edge")
