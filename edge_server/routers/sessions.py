"""`/api/v1/sessions`: open, read, benefits, end."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.schemas import BenefitsView, OpenSessionRequest, SessionView, problems
from edge_server.services import benefits as benefits_service
from edge_server.services import sessions as session_service

router = APIRouter(prefix="/sessions", tags=["sessions"])

# What the edge issues ("ses_" + URL-safe base64); anything else is refused before a lookup.
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", max_length=64)]

_AUTH = (401, "unauthorized")
_IDEMPOTENCY = (
    (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
    (409, "idempotency-key-in-flight"),
)
_CENTRAL = (503, "central-unavailable")
_NOT_FOUND = (404, "session-not-found")
_BAD_PATH = (422, "validation-error")


@router.post(
    "",
    status_code=201,
    response_model=SessionView,
    responses=problems(
        _AUTH, *_IDEMPOTENCY, (422, "validation-error"), (422, "invalid-citizen-id"),
        (404, "citizen-not-found"), (403, "card-not-valid"), _CENTRAL,
        (413, "payload-too-large"), (429, "too-many-requests"),
    ),
)
def open_session(body: OpenSessionRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Identify a citizen and open a session bound to this device (Idempotency-Key)."""
    return idem.run(
        lambda commit: session_service.open_session(ctx, idem.device_id, body, commit),
        status_code=201,
    )


@router.get("/{session_id}", responses=problems(_AUTH, _NOT_FOUND, _BAD_PATH))
def get_session(session_id: SessionId, ctx: Ctx, device_id: CurrentDevice) -> SessionView:
    return session_service.get_session(ctx, device_id, session_id)


@router.get(
    "/{session_id}/benefits",
    response_model=BenefitsView,
    responses=problems(_AUTH, _NOT_FOUND, (404, "citizen-not-found"), _CENTRAL, _BAD_PATH),
)
def get_benefits(session_id: SessionId, ctx: Ctx, device_id: CurrentDevice) -> Response:
    # JSON bytes from the service (which may answer from memory): FastAPI re-validating the
    # view against response_model would cost as much as the rest of the read.
    return Response(benefits_service.benefits_json(ctx, device_id, session_id),
                    media_type="application/json")


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    responses=problems(_AUTH, *_IDEMPOTENCY, _NOT_FOUND, _BAD_PATH),
)
def end_session(session_id: SessionId, ctx: Ctx, idem: Idempotent) -> Response:
    """End the session (card pulled, finished, idle); 204 also when it had already ended."""
    return idem.run(
        lambda commit: session_service.end_session(ctx, idem.device_id, session_id, commit),
        status_code=204,
    )
