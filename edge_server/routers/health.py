"""`GET /api/v1/health`: no credential; never waits for the central platform."""

from __future__ import annotations

from fastapi import APIRouter

from edge_server import __version__
from edge_server.deps import Ctx
from edge_server.schemas import HealthView

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(ctx: Ctx) -> HealthView:
    """`central` is what the last contact said (a real call or the background probe)."""
    return HealthView(status="ok", version=__version__, central=ctx.central.reachability.state)
