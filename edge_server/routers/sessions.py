"""`/api/v1/sessions`: open, read, benefits, end."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.schemas import BenefitsView, OpenSessionRequest, SessionView, problems
from edge_server.services import benefits as benefits_service
from edge_server.services import sessions as session_service

router = APIRouter(prefix="/sessions", tags=["sessions"])

_AUTH = (401, "unauthorized")
_IDEMPOTENCY = (
    (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
    (409, "idempotency-key-in-flight"),
)
_CENTRAL = (503, "central-unavailable")
_NOT_FOUND = (404, "session-not-found")


@router.post(
    "",
    status_code=201,
    response_model=SessionView,
    responses=problems(
        _AUTH, *_IDEMPOTENCY, (422, "validation-error"), (422, "invalid-citizen-id"),
        (404, "citizen-not-found"), (403, "card-not-valid"), _CENTRAL,
        (413, "payload-too-large"),
    ),
)
def open_session(body: OpenSessionRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Identify a citizen and open a session bound to this device (Idempotency-Key)."""
    return idem.run(
        lambda commit: session_service.open_session(ctx, idem.device_id, body, commit),
        status_code=201,
    )


@router.get("/{session_id}", responses=problems(_AUTH, _NOT_FOUND))
def get_session(session_id: str, ctx: Ctx, device_id: CurrentDevice) -> SessionView:
    return session_service.get_session(ctx, device_id, session_id)


@router.get(
    "/{session_id}/benefits",
    responses=problems(_AUTH, _NOT_FOUND, (404, "citizen-not-found"), _CENTRAL),
)
def get_benefits(session_id: str, ctx: Ctx, device_id: CurrentDevice) -> BenefitsView:
    return benefits_service.benefits(ctx, device_id, session_id)


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    responses=problems(_AUTH, *_IDEMPOTENCY, _NOT_FOUND),
)
def end_session(session_id: str, ctx: Ctx, idem: Idempotent) -> Response:
    """End the session (card pulled, finished, idle); 204 also when it had already ended."""
    return idem.run(
        lambda commit: session_service.end_session(ctx, idem.device_id, session_id, commit),
        status_code=204,
    )
