"""`/api/v1/submissions/{receipt_no}`: the state of any submission of the hall by its receipt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from edge_server.deps import Ctx, CurrentDevice
from edge_server.schemas import RECEIPT_PATTERN, ReceiptView, problems
from edge_server.services import receipts

router = APIRouter(prefix="/submissions", tags=["submissions"])

ReceiptNo = Annotated[str, Path(pattern=RECEIPT_PATTERN, max_length=19)]


@router.get(
    "/{receipt_no}",
    responses=problems((401, "unauthorized"), (404, "submission-not-found"),
                       (422, "validation-error")),
)
def get_submission(receipt_no: ReceiptNo, ctx: Ctx, _device: CurrentDevice) -> ReceiptView:
    """Any device of the hall may ask (the receipt holds no personal data)."""
    return receipts.get_receipt(ctx, receipt_no)
