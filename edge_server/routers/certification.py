"""`/api/v1/sessions/{session_id}/certification(s)`: the session citizen's pension
qualification certification (edge-api.md). Thin: services/certification.py does the work."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.routers.sessions import SessionId
from edge_server.schemas import (
    CertificationReceiptView,
    CertificationRequest,
    CertificationStatusView,
    problems,
)
from edge_server.services import certification as certification_service

router = APIRouter(prefix="/sessions", tags=["certification"])

_AUTH = (401, "unauthorized")
_NOT_FOUND = (404, "session-not-found")
_CITIZEN = (404, "citizen-not-found")
_CENTRAL = (503, "central-unavailable")
_BAD = (422, "validation-error")


@router.get(
    "/{session_id}/certification",
    responses=problems(_AUTH, _NOT_FOUND, _CITIZEN, _CENTRAL, _BAD),
)
def get_certification(session_id: SessionId, ctx: Ctx,
                      device_id: CurrentDevice) -> CertificationStatusView:
    """Whether a certification is due (or why not, in plain words), with the enrolled face
    template for the kiosk's 1:1 check (kept in memory there, never stored)."""
    return certification_service.status(ctx, device_id, session_id)


@router.post(
    "/{session_id}/certifications",
    status_code=201,
    response_model=CertificationReceiptView,
    responses=problems(
        _AUTH, (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
        (409, "idempotency-key-in-flight"), _NOT_FOUND, _CITIZEN, _BAD,
        (422, "record-mismatch"), (422, "invalid-evidence"), (422, "judgement-failed"),
        (422, "certification-not-due"), (422, "no-template"), (409, "certification-pending"),
        (413, "payload-too-large"), _CENTRAL, (503, "judge-busy"), (503, "judge-unavailable"),
        (503, "outbox-full"),
    ),
)
def certify(session_id: SessionId, body: CertificationRequest, ctx: Ctx,
            idem: Idempotent) -> Response:
    """Certify (Idempotency-Key): the liveness evidence and the terminal-signed record. The
    edge judges the evidence again; 201 with a receipt, `sent` or `queued` (central down)."""
    return certification_service.certify(ctx, idem, session_id, body)
