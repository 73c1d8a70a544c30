"""`GET /health`: readiness, broker, database and ingest counters."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from common.problem import Problem
from fleet.manager.api.deps import ManagerDep

router = APIRouter(tags=["service"])


@router.get("/health")
def health(manager: ManagerDep) -> JSONResponse:
    """200 when connected to the broker, subscribed, and the database answers; else 503."""
    status = manager.status()
    if not status["ready"]:
        raise Problem(503, "not-ready", "The fleet manager is not ready",
                      detail="broker or database unavailable", retry_after=5, **status)
    return JSONResponse(status)
