"""REST for operators, dashboards and the CLI: `/api/v1`, JSON, RFC 9457 problem+json errors.

Routes live in `routes/` (one module per resource) and get what they need from `deps.py`; the
manager they serve is built outside and handed to `create_app`, which keeps it on `app.state`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from common.version import __version__
from fleet.manager.api.routes import commands, devices, health, metrics, rollouts
from fleet.manager.service import FleetManager
from webapi.problems import install_problem_handlers

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    # Stable OpenAPI operation ids: "<tag>-<function name>".
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(manager: FleetManager) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(app.state.manager.start)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.manager.stop)

    app = FastAPI(
        title="HRSS fleet manager",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.manager = manager
    install_problem_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (health, devices, commands, rollouts):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(metrics.router)  # at the root: Prometheus' default metrics_path
    return app
