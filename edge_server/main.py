"""Build and run the edge server: context, FastAPI app, background tasks, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx
import uvicorn
from fastapi import FastAPI

from common.logs import setup_logging
from edge_server import __version__, maintenance
from edge_server.central_client import CentralClient
from edge_server.context import EdgeContext, utc_now
from edge_server.crypto import DataCipher, load_or_create_key
from edge_server.db import create_tables, make_engine
from edge_server.middleware import BodySizeLimit
from edge_server.routers import health, sessions
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
    """Key, database and central client; `central_http` lets tests plug in a transport."""
    cipher = DataCipher(load_or_create_key(settings.key_file))
    engine = make_engine(settings.database_url)
    create_tables(engine)
    central = CentralClient(
        settings.central_url,
        settings.central_api_key.get_secret_value(),
        settings.central_timeout_s,
        http=central_http,
    )
    return EdgeContext(settings=settings, engine=engine, cipher=cipher, central=central,
                       clock=clock)


async def _probe_central(ctx: EdgeContext) -> None:
    """Keep the health endpoint's `central` current without making it wait: probe only when
    no call has reached (or failed to reach) the platform for a probe interval."""
    interval = ctx.settings.central_probe_interval_s
    while True:
        age = ctx.central.reachability.age_s()
        if age is None or age >= interval:
            try:
                await anyio.to_thread.run_sync(ctx.central.probe)
            except Exception:
                log.exception("central probe failed; trying again next interval")
            age = 0.0
        await asyncio.sleep(interval - age)


async def _purge_regularly(ctx: EdgeContext) -> None:
    while True:
        try:
            await anyio.to_thread.run_sync(maintenance.purge, ctx)
        except Exception:
            log.exception("purge failed; trying again next interval")
        await asyncio.sleep(ctx.settings.purge_interval_s)


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
        tasks = (
            [asyncio.create_task(_probe_central(ctx)), asyncio.create_task(_purge_regularly(ctx))]
            if background
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            ctx.central.close()
            ctx.engine.dispose()

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
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(sessions.router, prefix=API_PREFIX)
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
