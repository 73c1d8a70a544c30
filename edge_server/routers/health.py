"""`GET /api/v1/health`: no credential; never waits for the central platform.

It must answer while every worker thread is busy (a slow platform is when operators look), so
it is async and takes no sync dependency: FastAPI runs those in the worker pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from edge_server import __version__, outbox
from edge_server.context import EdgeContext
from edge_server.schemas import HealthView, OutboxHealthView

router = APIRouter(tags=["health"])

# The relay refreshes the outbox figures every second; older than this, they are read here.
OUTBOX_STATS_MAX_AGE_S = 10.0


@router.get("/health")
async def health(request: Request) -> HealthView:
    """`central` is what the last contact said (a real call or the background probe); `outbox`
    what the relay last counted."""
    ctx: EdgeContext = request.app.state.edge
    found = outbox.recent_stats(ctx, OUTBOX_STATS_MAX_AGE_S)
    return HealthView(
        status="ok", version=__version__, central=ctx.central.reachability.state,
        outbox=OutboxHealthView(depth=found.depth, oldest_pending_age_s=found.oldest_pending_age_s,
                                dead_letters=found.dead_letters, full=found.full),
        cache_hit_ratio=ctx.cache_stats.ratio(),
    )
