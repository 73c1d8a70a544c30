"""The subsidies the session's citizen may apply for (with eligibility), and the pre-check of an
application (central runs its risk validators and records nothing)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pydantic import TypeAdapter

from common.clock import iso_utc
from common.masking import mask_citizen_id
from common.problem import Problem
from edge_server import audit
from edge_server.central import CentralNotFound, CentralUnavailable, queries
from edge_server.central.queries import CentralSubsidy
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction
from edge_server.schemas import (
    ApplicationRequest,
    FindingView,
    FormFieldView,
    PrecheckView,
    SubsidiesView,
    SubsidyView,
)
from edge_server.services import citizens
from edge_server.services.sessions import LiveSession, live_session

SUBSIDIES = "subsidies"  # the cache's kind

_ITEMS = TypeAdapter(list[CentralSubsidy])
log = logging.getLogger(__name__)


def subsidies(ctx: EdgeContext, device_id: str, session_id: str) -> SubsidiesView:
    """Cached like the benefits (TTL, then stale while central is down)."""
    session = live_session(ctx, device_id, session_id)
    cid = session.citizen_id

    def fetch() -> tuple[dt.datetime, Any]:
        answer = queries.query_subsidies(ctx.central, cid, ctx.now())
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    fresh = citizens.cached(ctx, cid, SUBSIDIES, fetch, _ITEMS.validate_python)
    answer = SubsidiesView(
        as_of=iso_utc(fresh.as_of), stale=fresh.stale,
        items=[
            SubsidyView(
                code=s.code, name=s.name,
                amount=f"{s.amount:.2f}" if s.amount is not None else None,
                period=s.period, eligible=s.eligible, reason_code=s.reason_code, reason=s.reason,
                form_fields=[FormFieldView(name=f.name, kind=f.kind, max_length=f.max_length)
                             for f in s.form_fields],
            )
            for s in fresh.value
        ],
    )
    audit_view(ctx, device_id, session_id, cid, "subsidies.viewed",
           "stale" if fresh.stale else "ok")
    return answer


def application_payload(session: LiveSession, request: ApplicationRequest) -> dict[str, Any]:
    """The central application payload (central-api.md 1.2) from the session and the form."""
    identity: dict[str, Any] = {"method": "card", "card_number": session.card_number}
    if session.card_id_code:
        identity["card_id_code"] = session.card_id_code
    if session.name:
        identity["name"] = session.name
    return {"citizen_id": session.citizen_id, "subsidy": request.subsidy,
            "period": request.period, "identity": identity, "form": dict(request.form)}


def precheck(ctx: EdgeContext, device_id: str, session_id: str,
             request: ApplicationRequest) -> PrecheckView:
    """Central's risk validators on the application, before it is confirmed. Central down is
    not an error: `checked: false` (the application may still be made; it is checked when
    sent)."""
    session = live_session(ctx, device_id, session_id)
    try:
        answer = queries.precheck(ctx.central, application_payload(session, request), ctx.now())
    except CentralUnavailable as exc:
        log.info("pre-check not done: %s", exc)
        audit_view(ctx, device_id, session_id, session.citizen_id, "application.prechecked",
               "unchecked")
        return PrecheckView(ok=False, findings=[], checked=False)
    except CentralNotFound:
        raise Problem(
            404, "citizen-not-found", "The central platform does not know this person"
        ) from None
    audit_view(ctx, device_id, session_id, session.citizen_id, "application.prechecked",
           "ok" if answer.ok else ",".join(f.code for f in answer.findings)[:64])
    return PrecheckView(
        ok=answer.ok, checked=True,
        findings=[FindingView(code=f.code, message=f.message) for f in answer.findings],
    )


def audit_view(ctx: EdgeContext, device_id: str, session_id: str, citizen_id: str, action: str,
           outcome: str) -> None:
    """One audit entry for a read or check made for a session's citizen (masked ID only)."""
    now = ctx.now()
    run_in_transaction(
        ctx.engine,
        lambda db: audit.append(
            db, at=now, device_id=device_id, action=action, session_id=session_id,
            masked_id=mask_citizen_id(citizen_id), outcome=outcome,
        ),
    )
