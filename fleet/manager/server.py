"""Runs a fleet manager behind uvicorn: the one module that joins the service and its REST API."""

from __future__ import annotations

import gc

from fleet.manager.settings import FleetManagerSettings

# The writer holds a batch of up to a few thousand decoded messages: with the default threshold
# (700 allocations) the cyclic collector walks them again and again, about a third of the
# ingest's CPU (benchmarks/fleet_ingest). Nothing in the ingest path makes reference cycles;
# the rarer collections still catch whatever other code leaves.
GC_THRESHOLD = (50_000, 20, 100)


def run(settings: FleetManagerSettings) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles them and runs the shutdown)."""
    import uvicorn

    from fleet.manager.api import create_app
    from fleet.manager.service import FleetManager

    manager = FleetManager(settings)
    gc.freeze()  # what start-up made (modules, models, the app) is never collected: skip it
    gc.set_threshold(*GC_THRESHOLD)
    uvicorn.run(
        create_app(manager),
        host=settings.host,
        port=settings.port,
        log_config=None,  # common.logs already routes uvicorn's loggers
        access_log=settings.access_log,
        lifespan="on",
    )
