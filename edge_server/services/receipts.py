"""Receipts: every submission goes through the outbox and answers with one.

`submit` is the one way a route submits: under the request's Idempotency-Key it enqueues the
submission in the key's own transaction (the stored answer and the outbox item commit
together, so a crash leaves both or neither), then waits a bounded time for the relay to
deliver it. The stored answer only names the receipt: every answer (first or replayed) is
rendered from the item's current state, so a kiosk retrying after a lost answer gets the same
receipt number and the state it has now ("sent" once the relay has delivered it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import Response
from sqlmodel import Session

from common.clock import iso_utc
from common.problem import Problem
from edge_server import outbox
from edge_server.context import EdgeContext
from edge_server.idempotency import REPLAYED_HEADER, Commit, IdempotentRequest
from edge_server.outbox import OutboxItemView
from edge_server.schemas import FindingView, ReceiptView

QR_PREFIX = "hrss:receipt:"
# Bounds on what a receipt shows of central's record and refusal (they come from a peer).
_MAX_FINDINGS = 16
_MAX_TEXT = 200

log = logging.getLogger(__name__)


def receipt_view(item: OutboxItemView) -> ReceiptView:
    record = item.record or {}
    application_no = record.get("application_no") if item.kind == "subsidy-application" else None
    return ReceiptView(
        receipt_no=item.receipt_no,
        qr=QR_PREFIX + item.receipt_no,
        kind=item.kind,
        state=item.state,  # type: ignore[arg-type]  # "queued" | "sent" | "refused"
        submitted_at=iso_utc(item.created_at),
        sent_at=iso_utc(item.sent_at) if item.sent_at else None,
        application_no=application_no if isinstance(application_no, str) else None,
        refusal_code=_text(item.refusal_code),
        refusal_message=_text(item.refusal_message),
        findings=[
            FindingView(code=str(f.get("code", ""))[:64], message=str(f.get("message", ""))[
                :_MAX_TEXT])
            for f in item.findings[:_MAX_FINDINGS]
            if isinstance(f, dict)
        ],
    )


def _text(value: str | None) -> str | None:
    return value[:_MAX_TEXT] if value else None


def receipt_not_found() -> Problem:
    return Problem(404, "submission-not-found", "No submission has this receipt number")


def get_receipt(ctx: EdgeContext, receipt_no: str) -> ReceiptView:
    """Any device of the hall may ask: the receipt holds no personal data, and its number is
    unguessable (10 random base32 characters)."""
    item = outbox.item_view(ctx, receipt_no)
    if item is None:
        raise receipt_not_found()
    return receipt_view(item)


def submit(
    ctx: EdgeContext,
    idem: IdempotentRequest,
    *,
    citizen_id: str,
    kind: str,
    payload: dict[str, Any],
    claim: tuple[str, str] | None = None,
    also: Callable[[Session, OutboxItemView], None] | None = None,
    before: Callable[[], None] | None = None,
) -> Response:
    """Enqueue under the request's key and answer `201` with the receipt (see the module doc).

    `before` runs first, once per first use of the key (rate limits: a replay costs nothing);
    `also(db, item)` writes in the enqueue's transaction (a local card block).
    """
    receipt_no: list[str] = []

    def handler(commit: Commit) -> ReceiptView:
        if before is not None:
            before()

        def work(db: Session) -> ReceiptView:
            try:
                item = outbox.enqueue(
                    ctx, db, device_id=idem.device_id, idempotency_key=idem.key,
                    citizen_id=citizen_id, kind=kind, payload=payload, claim=claim,
                )
            except outbox.DuplicateClaim as exc:
                raise Problem(
                    409, "duplicate-application",
                    "This claim (subsidy and period) has an application already",
                    "Another application of this citizen for the same subsidy and period "
                    "has a receipt already.",
                    receipt_no=exc.receipt_no,
                ) from None
            except outbox.OutboxFull:
                raise Problem(
                    503, "outbox-full",
                    "The edge cannot take more submissions until the queue drains",
                    retry_after=ctx.settings.central_retry_after_s,
                ) from None
            if also is not None:
                also(db, item)
            receipt_no[:] = [item.receipt_no]
            return receipt_view(item)

        queued = commit(work)
        wait_s = ctx.settings.outbox_sync_wait_s
        # Known down: the relay will not deliver within the wait; say "queued" at once rather
        # than hold the citizen (and a worker thread) for nothing.
        if wait_s <= 0 or ctx.central.reachability.state == "unreachable":
            return queued
        return receipt_view(outbox.await_delivery(ctx, receipt_no[0], wait_s))

    return current(ctx, idem.run(handler, status_code=201))


def current(ctx: EdgeContext, response: Response) -> Response:
    """A stored (or just stored) receipt answer, re-rendered from the item's current state."""
    if response.status_code != 201:
        return response
    try:
        receipt_no = json.loads(bytes(response.body))["receipt_no"]
    except (ValueError, KeyError, TypeError):
        log.error("a stored receipt answer is not a receipt")
        return response
    item = outbox.item_view(ctx, receipt_no)
    if item is None:
        return response  # purged since: the stored answer is all there is
    fresh = Response(
        receipt_view(item).model_dump_json().encode(), status_code=201,
        media_type="application/json",
    )
    if REPLAYED_HEADER in response.headers:
        fresh.headers[REPLAYED_HEADER] = response.headers[REPLAYED_HEADER]
    return fresh
