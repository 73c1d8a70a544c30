"""`/api/v1/card-loss`: a temporary loss report (ID number + service PIN, no card) and its
reversal (card + PIN). Not bound to a session: the card is not at hand, or not usable."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge_server.deps import Ctx, Idempotent
from edge_server.schemas import LossReportRequest, LossReversalRequest, ReceiptView, problems
from edge_server.services import card_loss

router = APIRouter(prefix="/card-loss", tags=["cards"])

_ERRORS = (
    (401, "unauthorized"), (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
    (409, "idempotency-key-in-flight"), (422, "validation-error"), (422, "invalid-citizen-id"),
    (413, "payload-too-large"), (429, "too-many-requests"), (503, "outbox-full"),
)


@router.post("/reports", status_code=201, response_model=ReceiptView,
             responses=problems(*_ERRORS))
def report(body: LossReportRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Report the citizen's card lost (Idempotency-Key). Central checks the PIN when the
    report reaches it; meanwhile the edge refuses the citizen's cards."""
    return card_loss.report(ctx, idem, body)


@router.post("/reversals", status_code=201, response_model=ReceiptView,
             responses=problems(*_ERRORS))
def reverse(body: LossReversalRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Reverse a loss report with the card and its PIN (解挂, Idempotency-Key)."""
    return card_loss.reverse(ctx, idem, body)
