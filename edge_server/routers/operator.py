"""`/api/v1/operator/outbox...`: what operators see of the outbox, and the retry of a dead letter
after correction (docs/outbox.md).

Auth: `Authorization: Bearer <edge.operator_api_key>`. Without that setting the routes do not
exist for anyone (404), so an edge nobody configured for operators exposes nothing. No personal
data: receipts, kinds, devices, codes and central's messages only.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from common.clock import iso_utc
from common.problem import Problem
from edge_server import outbox
from edge_server.context import EdgeContext
from edge_server.deps import Ctx
from edge_server.idempotency import KEY_PATTERN
from edge_server.schemas import RECEIPT_PATTERN, FindingView, ReceiptView, problems
from edge_server.services import receipts

router = APIRouter(prefix="/operator/outbox", tags=["operator"])

ReceiptNo = Annotated[str, Path(pattern=RECEIPT_PATTERN, max_length=19)]
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_STATUS = {
    "submission-not-found": 404,
    "not-a-dead-letter": 409,
    "already-retried": 409,
    "payload-wiped": 409,
    "not-a-form": 422,
    "idempotency-key-reused": 422,
}


class OutboxStatusView(BaseModel):
    depth: int = Field(description="Submissions not yet at central (pending + sending).")
    oldest_pending_age_s: float | None
    dead_letters: int = Field(description="Refused submissions not retried yet.")
    sent: int
    full: bool
    max_pending: int


class DeadLetterView(BaseModel):
    receipt_no: str
    kind: str
    device_id: str
    submitted_at: str
    refusal_code: str | None
    refusal_message: str | None
    findings: list[FindingView]
    retry_of: str | None
    retryable: bool = Field(description="False once wiped (it held a PIN): the citizen submits "
                                        "again.")


class DeadLettersView(BaseModel):
    items: list[DeadLetterView]


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    form: dict[str, Annotated[str, Field(pattern=r"^[0-9]{1,32}$")]] | None = Field(
        None, max_length=4, description="Corrected application form fields (digits).")


def _operator(ctx: EdgeContext, authorization: str | None) -> None:
    expected = ctx.settings.operator_api_key
    if expected is None or not expected.get_secret_value():
        raise Problem(404, "not-found", "Not found")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.get_secret_value().encode()
    ):
        raise Problem(401, "unauthorized", "Missing or invalid operator credential")


Authorization = Annotated[str | None, Header(description="Bearer <edge.operator_api_key>")]
_AUTH = ((401, "unauthorized"), (404, "not-found"))


@router.get("", responses=problems(*_AUTH))
def outbox_status(ctx: Ctx, authorization: Authorization = None) -> OutboxStatusView:
    _operator(ctx, authorization)
    found = outbox.stats(ctx)
    return OutboxStatusView(
        depth=found.depth, oldest_pending_age_s=found.oldest_pending_age_s,
        dead_letters=found.dead_letters, sent=found.sent, full=found.full,
        max_pending=ctx.settings.outbox_max_pending,
    )


@router.get("/dead-letters", responses=problems(*_AUTH, (422, "validation-error")))
def list_dead_letters(
    ctx: Ctx,
    authorization: Authorization = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> DeadLettersView:
    _operator(ctx, authorization)
    return DeadLettersView(items=[
        DeadLetterView(
            receipt_no=d.receipt_no, kind=d.kind, device_id=d.device_id,
            submitted_at=iso_utc(d.created_at), refusal_code=d.dead_code,
            refusal_message=d.dead_reason,
            findings=[FindingView(code=str(f.get("code", ""))[:64],
                                  message=str(f.get("message", ""))[:200])
                      for f in d.findings[:16]],
            retry_of=d.retry_of, retryable=d.retryable,
        )
        for d in outbox.dead_letters(ctx, limit)
    ])


@router.post(
    "/dead-letters/{receipt_no}/retry",
    status_code=201,
    responses=problems(
        *_AUTH, (404, "submission-not-found"), (409, "not-a-dead-letter"),
        (409, "already-retried"), (409, "payload-wiped"), (409, "duplicate-application"),
        (422, "not-a-form"), (422, "idempotency-key-reused"), (422, "validation-error"),
        (503, "outbox-full"),
    ),
)
def retry_dead_letter(
    receipt_no: ReceiptNo,
    ctx: Ctx,
    authorization: Authorization = None,
    idempotency_key: Annotated[str | None, Header()] = None,
    body: Annotated[RetryBody | None, Body()] = None,
) -> ReceiptView:
    """Requeue a copy with a new submission key (`retry_of` names this one), optionally with
    corrected `form` fields. The same Idempotency-Key answers the same copy."""
    _operator(ctx, authorization)
    if idempotency_key is None or not KEY_PATTERN.fullmatch(idempotency_key):
        raise Problem(400, "idempotency-key-required",
                      "An Idempotency-Key header of 1-128 characters A-Z a-z 0-9 - _ . : is "
                      "required")
    form = body.form if body is not None else None
    if form and not all(_FIELD.match(name) for name in form):
        raise Problem(422, "validation-error", "Form field names are lower-case words")
    try:
        copy = outbox.retry(ctx, receipt_no, operator_key=idempotency_key, form=form)
    except outbox.NotRetryable as exc:
        raise Problem(_STATUS.get(exc.code, 409), exc.code, exc.message) from None
    except outbox.DuplicateClaim as exc:
        raise Problem(409, "duplicate-application",
                      "This claim (subsidy and period) has an application already",
                      receipt_no=exc.receipt_no) from None
    except outbox.OutboxFull:
        raise Problem(503, "outbox-full", "The outbox is full",
                      retry_after=ctx.settings.central_retry_after_s) from None
    return receipts.receipt_view(copy)
