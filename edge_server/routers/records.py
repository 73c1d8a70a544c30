"""`/api/v1/sessions/{session_id}/contributions` and `/pension-account`: the session citizen's
contribution history by year and pension personal account (edge-api.md). Read-only GETs:
asked twice, the same answer (or a fresher one); no Idempotency-Key."""

from __future__ import annotations

from fastapi import APIRouter

from edge_server.deps import Ctx, CurrentDevice
from edge_server.routers.sessions import SessionId
from edge_server.schemas import problems
from edge_server.services import records
from edge_server.services.records import ContributionsView, PensionAccountView

router = APIRouter(prefix="/sessions", tags=["records"])

_ERRORS = problems((401, "unauthorized"), (404, "session-not-found"), (404, "citizen-not-found"),
                   (503, "central-unavailable"), (422, "validation-error"))


@router.get("/{session_id}/contributions", responses=_ERRORS)
def get_contributions(session_id: SessionId, ctx: Ctx,
                      device_id: CurrentDevice) -> ContributionsView:
    """Contributions by year and scheme: months paid, base, personal and employer amounts."""
    return records.contributions(ctx, device_id, session_id)


@router.get("/{session_id}/pension-account", responses=_ERRORS)
def get_pension_account(session_id: SessionId, ctx: Ctx,
                        device_id: CurrentDevice) -> PensionAccountView:
    """The pension personal account: its balance and one entry per year."""
    return records.pension_account(ctx, device_id, session_id)
