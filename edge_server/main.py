"""Build and run the edge server: context, FastAPI app, background tasks, uvicorn."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from common.clock import utc_now
from common.logs import setup_logging
from common.sqlite import is_sqlite, make_engine, make_loop_reader
from common.version import __version__
from edge_server import migrate
from edge_server.background import Background
from edge_server.central import client_from_settings
from edge_server.certification.bodylimit import RouteBodySizeLimit
from edge_server.context import EdgeContext
from edge_server.crypto import DataCipher, load_or_create_key
from edge_server.idempotency import release_claims_of_a_dead_server
from edge_server.openapi import install_openapi
from edge_server.routers import (
    applications,
    cards,
    certificates,
    certification,
    device,
    field,
    health,
    metrics,
    operator,
    pin_authorisations,
    records,
    sessions,
    submissions,
)
from edge_server.settings import EdgeSettings
from webapi.problems import install_problem_handlers

API_PREFIX = "/api/v1"

log = logging.getLogger(__name__)


def build_context(
    settings: EdgeSettings,
    *,
    central_http: httpx.Client | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> EdgeContext:
    """Key, database (migrated to head) and central client; `central_http` lets tests plug in
    a transport."""
    cipher = DataCipher(load_or_create_key(settings.key_file))
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    central = client_from_settings(settings, http=central_http, clock=clock)
    ctx = EdgeContext(settings=settings, engine=engine, cipher=cipher, central=central,
                      clock=clock, loop_reader=make_loop_reader(settings.database_url))
    central.reachability.on_recovery(ctx.outbox.central_recovered)
    return ctx


def create_app(
    settings: EdgeSettings,
    *,
    central_http: httpx.Client | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    background: bool = True,
) -> FastAPI:
    """The edge app. `background=False` leaves out the probe and purge tasks (tests that
    want to observe reachability from real calls only)."""
    ctx = build_context(settings, central_http=central_http, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if is_sqlite(settings.database_url):
            release_claims_of_a_dead_server(ctx.engine)
        loops = Background(ctx) if background else None
        if loops is not None:
            loops.start()
        try:
            yield
        finally:
            if loops is not None:
                await loops.stop()
            ctx.central.close()
            ctx.engine.dispose()
            if ctx.loop_reader is not None:
                ctx.loop_reader.dispose()

    app = FastAPI(
        title="HRSS kiosk edge server",
        version=__version__,
        description="The kiosks' API: docs/contracts/edge-api.md.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.edge = ctx
    install_problem_handlers(app)
    app.add_middleware(RouteBodySizeLimit, settings=settings)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(sessions.router, prefix=API_PREFIX)
    app.include_router(device.router, prefix=API_PREFIX)
    app.include_router(operator.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    app.include_router(applications.router, prefix=API_PREFIX)
    app.include_router(records.router, prefix=API_PREFIX)
    app.include_router(cards.router, prefix=API_PREFIX)
    app.include_router(pin_authorisations.router, prefix=API_PREFIX)
    app.include_router(submissions.router, prefix=API_PREFIX)
    app.include_router(certification.router, prefix=API_PREFIX)
    app.include_router(field.router, prefix=API_PREFIX)
    app.include_router(certificates.router, prefix=API_PREFIX)
    app.include_router(certificates.public)
    install_openapi(app)
    return app


def serve(settings: EdgeSettings) -> None:
    setup_logging(settings.log_level.upper())
    app = create_app(settings)
    log.info(
        "edge server %s on http://%s:%d, central %s", __version__, settings.host, settings.port,
        settings.central_url,
    )
    # log_config=None keeps setup_logging's redacting handler for uvicorn's loggers too.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level.lower())
