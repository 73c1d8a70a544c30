"""The simulator's FastAPI application: the `/central/v1` contract plus `/sim/v1` controls."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from common.clock import utc_now
from common.version import __version__
from simulators.central import (
    routes_central,
    routes_certification,
    routes_keys,
    routes_services,
    routes_sim,
)
from simulators.central.bodylimit import BodyLimit
from simulators.central.config import CentralSimConfig
from simulators.central.deps import SimState
from simulators.central.faults import FaultState
from simulators.central.population import Population
from simulators.central.store import Store
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)


def create_app(
    config: CentralSimConfig | None = None,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
) -> FastAPI:
    """One simulator; `clock` (UTC) is injectable so tests can move time without sleeping."""
    config = config or CentralSimConfig()
    data_dir = config.data_dir
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="central-sim-"))
    store = Store(data_dir, seed=config.seed, population=config.population)
    state = SimState(
        config=config, population=Population(config.seed, config.population),
        faults=FaultState(config.faults), clock=clock, store=store,
    )
    # A temporary directory is ours alone: removed when the app stops, or when it is dropped
    # without having been started; a given one is only closed.
    cleanup = weakref.finalize(state, _close, store, data_dir if config.data_dir is None else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Index the population before accepting connections, so readiness means ready
        # (a million citizens take several seconds).
        await anyio.to_thread.run_sync(state.population.ensure_index)
        log.info(
            "central simulator ready: seed %d, %d citizens, business date %s",
            config.seed, config.population, state.business_date().isoformat(),
        )
        yield
        cleanup()

    app = FastAPI(
        title="Central benefit platform (simulator)",
        version=__version__,
        description="Implements docs/contracts/central-api.md; `/sim/v1` are tester controls.",
        lifespan=lifespan,
        openapi_url="/central/v1/openapi.json",
        docs_url="/central/v1/docs",
        redoc_url=None,
    )
    app.state.sim = state
    install_problem_handlers(app)
    app.include_router(routes_central.router)
    app.include_router(routes_services.router)
    app.include_router(routes_sim.router)
    app.include_router(routes_certification.router)
    app.include_router(routes_keys.router)
    app.add_middleware(BodyLimit)
    return app


def _close(store: Store, temporary: Path | None) -> None:
    store.close()
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)
