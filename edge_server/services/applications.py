"""Subsidy applications: make one (through the outbox, one per claim), and list the citizen's
applications with their history, with the submissions not yet at central beside them."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from fastapi import Response
from pydantic import TypeAdapter
from sqlmodel import col, select

from common.clock import iso_utc
from common.masking import mask_citizen_id
from edge_server import outbox
from edge_server.central import queries
from edge_server.central.queries import CentralApplication
from edge_server.context import EdgeContext
from edge_server.db import session_scope
from edge_server.idempotency import IdempotentRequest
from edge_server.models import OutboxItem
from edge_server.schemas import (
    ApplicationRequest,
    ApplicationsView,
    ApplicationView,
    HistoryView,
)
from edge_server.services import citizens, receipts
from edge_server.services.sessions import live_session
from edge_server.services.subsidies import application_payload, audit_view

KIND = "subsidy-application"
APPLICATIONS = "applications"  # the cache's kind
_RECEIPTS_LOOKED_AT = 200  # a citizen's sent applications through this edge, newest first

_ITEMS = TypeAdapter(list[CentralApplication])
log = logging.getLogger(__name__)


def apply(ctx: EdgeContext, idem: IdempotentRequest, session_id: str,
          request: ApplicationRequest) -> Response:
    """201 with the receipt; 409 duplicate-application when the claim (citizen, subsidy,
    period) has one already, from this kiosk or another; 503 outbox-full."""
    session = live_session(ctx, idem.device_id, session_id)
    payload = application_payload(session, request)
    response = receipts.submit(
        ctx, idem, citizen_id=session.citizen_id, kind=KIND, payload=payload,
        claim=(request.subsidy, request.period),
    )
    log.info("application (%s %s) of %s on device %s: %d", request.subsidy, request.period,
             mask_citizen_id(session.citizen_id), idem.device_id, response.status_code)
    return response


def applications(ctx: EdgeContext, device_id: str, session_id: str) -> ApplicationsView:
    """Central's list, asked each time (states move); the cache answers when central is down."""
    session = live_session(ctx, device_id, session_id)
    cid = session.citizen_id

    def fetch() -> tuple[dt.datetime, Any]:
        answer = queries.query_applications(ctx.central, cid, ctx.now())
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    fresh = citizens.cached(
        ctx, cid, APPLICATIONS, fetch, _ITEMS.validate_python, refresh=True)
    numbers = _receipts_by_application(ctx, cid)
    answer = ApplicationsView(
        as_of=iso_utc(fresh.as_of), stale=fresh.stale,
        items=[
            ApplicationView(
                application_no=a.application_no, receipt_no=numbers.get(a.application_no),
                subsidy=a.subsidy, subsidy_name=a.subsidy_name, period=a.period,
                amount=f"{a.amount:.2f}" if a.amount is not None else None, status=a.status,
                history=[HistoryView(status=h.status, at=iso_utc(h.at), reason=h.reason)
                         for h in a.history],
                bank=a.bank, account_masked=a.account_masked,
            )
            for a in fresh.value
        ],
        queued=[receipts.receipt_view(item) for item in outbox.pending_for_citizen(ctx, cid)],
    )
    audit_view(ctx, device_id, session_id, cid, "applications.viewed",
           "stale" if fresh.stale else "ok")
    return answer


def _receipts_by_application(ctx: EdgeContext, citizen_id: str) -> dict[str, str]:
    """application_no -> receipt_no of the citizen's applications sent through this edge."""
    with session_scope(ctx.engine, write=False) as db:
        rows = db.exec(
            select(OutboxItem.receipt_no, OutboxItem.result)
            .where(col(OutboxItem.citizen_key) == ctx.cipher.citizen_key(citizen_id),
                   col(OutboxItem.kind) == KIND, col(OutboxItem.state) == "sent")
            .order_by(col(OutboxItem.seq).desc())
            .limit(_RECEIPTS_LOOKED_AT)
        ).all()
    out: dict[str, str] = {}
    for receipt_no, result in rows:
        try:
            record = json.loads(result or "null")
        except ValueError:
            continue
        number = record.get("application_no") if isinstance(record, dict) else None
        if isinstance(number, str):
            out.setdefault(number, receipt_no)
    return out
