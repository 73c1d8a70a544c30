"""`/api/v1/cards/pin-authorisations`: a staff PIN reload / unblock at the terminal, signed by
the issuer's key centre. Thin: services/pin_authorisations.py does the work."""

from __future__ import annotations

from fastapi import APIRouter

from edge_server.deps import Ctx, CurrentDevice
from edge_server.schemas import problems
from edge_server.services import pin_authorisations
from edge_server.services.pin_authorisations import PinAuthorisationRequest, PinAuthorisationView

router = APIRouter(prefix="/cards", tags=["cards"])


@router.post(
    "/pin-authorisations",
    responses=problems(
        (401, "unauthorized"), (422, "validation-error"), (413, "payload-too-large"),
        (403, "staff-refused"), (429, "too-many-requests"), (503, "central-unavailable"),
    ),
)
def authorise(body: PinAuthorisationRequest, ctx: Ctx,
              device_id: CurrentDevice) -> PinAuthorisationView:
    """The MAC for one staff RELOAD PIN / PIN UNBLOCK of the card in the reader, for its
    current challenge. No Idempotency-Key: it changes nothing (asked twice, the same MAC), and
    it is never queued (central down: 503)."""
    return pin_authorisations.authorise(ctx, device_id, body)
