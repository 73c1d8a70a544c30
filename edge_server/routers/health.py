"""`GET /api/v1/health`: no credential; never waits for the central platform.

It must answer while every worker thread is busy (a slow platform is when operators look), so
it is async and takes no sync dependency: FastAPI runs those in the worker pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from edge_server import __version__
from edge_server.context import EdgeContext
from edge_server.schemas import HealthView

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request) -> HealthView:
    """`central` is what the last contact said (a real call or the background probe)."""
    ctx: EdgeContext = request.app.state.edge
    return HealthView(status="ok", version=__version__, central=ctx.central.reachability.state)
