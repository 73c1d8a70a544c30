"""`/api/v1/sessions/{session_id}/...`: the session citizen's subsidies, pre-check, applications
and card status (edge-api.md). Thin: the services do the work."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.routers.sessions import SessionId
from edge_server.schemas import (
    ApplicationRequest,
    ApplicationsView,
    CardView,
    PrecheckView,
    ReceiptView,
    SubsidiesView,
    problems,
)
from edge_server.services import applications as application_service
from edge_server.services import card_loss
from edge_server.services import subsidies as subsidy_service

router = APIRouter(prefix="/sessions", tags=["applications"])

_AUTH = (401, "unauthorized")
_NOT_FOUND = (404, "session-not-found")
_CITIZEN = (404, "citizen-not-found")
_CENTRAL = (503, "central-unavailable")
_BAD = (422, "validation-error")
_IDEMPOTENCY = (
    (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
    (409, "idempotency-key-in-flight"),
)


@router.get(
    "/{session_id}/subsidies",
    responses=problems(_AUTH, _NOT_FOUND, _CITIZEN, _CENTRAL, _BAD),
)
def get_subsidies(session_id: SessionId, ctx: Ctx, device_id: CurrentDevice) -> SubsidiesView:
    """The subsidies the citizen may apply for, with eligibility and each one's form fields."""
    return subsidy_service.subsidies(ctx, device_id, session_id)


@router.post(
    "/{session_id}/applications/precheck",
    responses=problems(_AUTH, _NOT_FOUND, _CITIZEN, _BAD, (413, "payload-too-large")),
)
def precheck(session_id: SessionId, body: ApplicationRequest, ctx: Ctx,
             device_id: CurrentDevice) -> PrecheckView:
    """Central's risk checks of an application before it is confirmed; records nothing (no
    Idempotency-Key). Central unreachable: `checked: false`."""
    return subsidy_service.precheck(ctx, device_id, session_id, body)


@router.post(
    "/{session_id}/applications",
    status_code=201,
    response_model=ReceiptView,
    responses=problems(
        _AUTH, *_IDEMPOTENCY, _NOT_FOUND, _BAD, (409, "duplicate-application"),
        (503, "outbox-full"), (413, "payload-too-large"),
    ),
)
def apply(session_id: SessionId, body: ApplicationRequest, ctx: Ctx,
          idem: Idempotent) -> Response:
    """Apply (Idempotency-Key): 201 with a receipt, `sent` or `queued` (central down)."""
    return application_service.apply(ctx, idem, session_id, body)


@router.get(
    "/{session_id}/applications",
    responses=problems(_AUTH, _NOT_FOUND, _CITIZEN, _CENTRAL, _BAD),
)
def list_applications(session_id: SessionId, ctx: Ctx,
                      device_id: CurrentDevice) -> ApplicationsView:
    """The citizen's applications with their history, and submissions not yet sent."""
    return application_service.applications(ctx, device_id, session_id)


@router.get(
    "/{session_id}/card",
    responses=problems(_AUTH, _NOT_FOUND, _CITIZEN, _CENTRAL, _BAD),
)
def get_card(session_id: SessionId, ctx: Ctx, device_id: CurrentDevice) -> CardView:
    """The status of the card the session was opened with."""
    return card_loss.card(ctx, device_id, session_id)
