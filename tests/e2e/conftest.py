"""One real stack for the module: central simulator, edge, Mosquitto, fleet manager, pcscd with
vpcd, the virtual card, the kiosk (offscreen) and its fleet agent, all as separate processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.stack.requirements import MissingSystemPackage
from simulators.stack.stack import Stack, StackOptions
from simulators.stack.supervisor import ProcessFailed, Supervisor
from tests.harness.stack import fail_on_missing


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("e2e")
    options = StackOptions(
        workdir=workdir,
        # The camera simulator and the face engine only for a module that certifies
        # (`WITH_CAMERA = True`): the processes cost CPU the other modules need.
        with_camera=getattr(request.module, "WITH_CAMERA", False),
        # Likewise the scanner, the ID card reader and the printers (`WITH_QR = True`, ...).
        with_qr=getattr(request.module, "WITH_QR", False),
        with_idcard=getattr(request.module, "WITH_IDCARD", False),
        with_printers=getattr(request.module, "WITH_PRINTERS", False),
        screenshots=workdir / "screenshots",
        health_interval_s=1.0,
        kiosk_env=getattr(request.module, "KIOSK_ENV", {}),
        # Always ask the central platform, so that an outage shows the cache's "as of" path.
        edge_env={"EDGE_CACHE_TTL_S": "0"},
    )
    with Supervisor(workdir / "logs") as sup:
        try:
            started = Stack(options, sup).start()
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        yield started


@pytest.fixture
def at_rest(stack: Stack) -> Iterator[Stack]:
    """Each journey starts and ends with no card in the reader and the kiosk waiting."""
    kiosk = stack.kiosk_client()
    stack.card().remove()
    kiosk.wait_screen("attract", timeout=40)
    yield stack
    stack.card().remove()
    stack.central_client().set_faults(outage=False)


def edge_sessions(stack: Stack) -> list[tuple[str, str | None]]:
    """(device_id, ended_at) of every session the edge has opened, read from its database."""
    db = Path(stack.edge.spec.env["EDGE_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT device_id, ended_at FROM service_session"))
