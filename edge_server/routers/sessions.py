"""`/api/v1/sessions`: open, read, benefits, end."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from edge_server.auth import request_device
from edge_server.context import EdgeContext
from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.schemas import BenefitsView, OpenSessionRequest, SessionView, problems
from edge_server.services import benefits as benefits_service
from edge_server.services import sessions as session_service

router = APIRouter(prefix="/sessions", tags=["sessions"])

# What the edge issues ("ses_" + URL-safe base64); anything else is refused before a lookup.
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)
SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, max_length=64)]

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
        # method "qr": each bad electronic card code in its own words
        (422, "token-invalid"), (410, "token-expired"), (409, "token-used"),
        (403, "token-other-terminal"),
        # method "idcard"
        (403, "idcard-expired"), (403, "idcard-mismatch"),
    ),
)
def open_session(body: OpenSessionRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Identify a citizen by social security card (`card`), electronic card code (`qr`) or
    resident ID card (`idcard`) and open a session bound to this device (Idempotency-Key)."""
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
    # Documented by hand: the function takes no FastAPI parameters (below).
    openapi_extra={
        "parameters": [{"name": "session_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": SESSION_ID_PATTERN,
                                   "maxLength": 64, "title": "Session Id"}}],
        "security": [{"HTTPBearer": []}],
    },
)
async def get_benefits(request: Request) -> Response:
    """The kiosk's most frequent read, so the cheapest route: no FastAPI dependencies
    (resolving them cost more than the cached read itself, benchmarks/edge.py), and an answer
    held in memory is found on the event loop (SQLite); anything else on a worker thread.
    The same checks as every session route: device token, path, session of this device."""
    device_id = request_device(request)
    session_id = _session_id(request.path_params["session_id"])
    ctx: EdgeContext = request.app.state.edge
    body = benefits_service.remembered_json(ctx, device_id, session_id)
    if body is None:
        # JSON bytes from the service: FastAPI re-validating the view against response_model
        # would cost as much as the rest of the read.
        body = await run_in_threadpool(benefits_service.benefits_json, ctx, device_id,
                                       session_id)
    return Response(body, media_type="application/json")


def _session_id(value: str) -> str:
    """`SessionId`'s check, for a route that declares no parameters: the same 422."""
    if len(value) <= 64 and _SESSION_ID.fullmatch(value):
        return value
    raise RequestValidationError([{
        "type": "string_pattern_mismatch", "loc": ("path", "session_id"),
        "msg": f"String should match pattern '{SESSION_ID_PATTERN}'", "input": value[:64],
    }])


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
