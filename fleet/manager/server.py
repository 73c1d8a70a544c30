"""Runs a fleet manager behind uvicorn: the one module that joins the service and its REST API."""

from __future__ import annotations

from fleet.manager.settings import FleetManagerSettings


def run(settings: FleetManagerSettings) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles them and runs the shutdown)."""
    import uvicorn

    from fleet.manager.api import create_app
    from fleet.manager.service import FleetManager

    manager = FleetManager(settings)
    uvicorn.run(
        create_app(manager),
        host=settings.host,
        port=settings.port,
        log_config=None,  # common.logs already routes uvicorn's loggers
        access_log=settings.access_log,
        lifespan="on",
    )
