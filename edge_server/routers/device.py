"""`/api/v1/device`: what a terminal asks about itself (its credential)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from edge_server.deps import Ctx, CurrentCredential, Idempotent
from edge_server.schemas import DeviceTokenView, problems
from edge_server.services import device_tokens

router = APIRouter(prefix="/device", tags=["device"])


@router.post(
    "/token",
    status_code=200,
    response_model=DeviceTokenView,
    responses=problems((401, "unauthorized"), (401, "token-expired")),
)
def refresh_token(ctx: Ctx, idem: Idempotent, credential: CurrentCredential) -> Response:
    """A fresh token for the calling device, before its own expires (Idempotency-Key)."""
    return idem.run(
        lambda commit: device_tokens.refresh(ctx, credential, commit), status_code=200
    )
