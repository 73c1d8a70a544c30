"""What the citizen of a session may see: participation and the last 24 months of pension."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Hashable

from sqlalchemy import Engine, and_, bindparam, or_, select
from sqlalchemy.exc import OperationalError

from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_account, mask_citizen_id
from common.sqlite import SINGLE_READ_OPTION
from edge_server import audit
from edge_server.context import EdgeContext
from edge_server.models import CitizenCacheEntry, ServiceSession
from edge_server.schemas import BenefitsView, ParticipationView, PaymentView
from edge_server.services import citizens
from edge_server.services.sessions import live_session

MONTHS = 24

log = logging.getLogger(__name__)


def _period_minus(period: str, months: int) -> str:
    year, month = map(int, period.split("-"))
    total = year * 12 + month - 1 - months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


_S = ServiceSession.__table__  # type: ignore[attr-defined]
_C = CitizenCacheEntry.__table__  # type: ignore[attr-defined]
# The session row and its citizen's two cache rows in one statement: what decides whether an
# answer rendered before still holds (the session is live; both entries are the same rows and
# within their TTL).
_READ_STATE = (
    select(_S.c.device_id, _S.c.nonce, _S.c.payload, _S.c.expires_at, _S.c.ended_at, _C.c.kind,
           _C.c.nonce.label("entry_nonce"), _C.c.payload.label("entry_payload"),
           _C.c.fetched_at)
    .select_from(_S.outerjoin(_C, and_(
        _C.c.citizen_key == _S.c.citizen_key,
        # Not IN (...): an expanding parameter is re-rendered on every execution.
        or_(_C.c.kind == citizens.PERSON, _C.c.kind == citizens.PAYMENTS),
    )))
    .where(_S.c.id == bindparam("id"))
)


def benefits_json(ctx: EdgeContext, device_id: str, session_id: str) -> bytes:
    """The benefits view as JSON bytes: from this process's memory when the session is live
    and both cache entries it was built from are the same rows and still fresh, else built.

    One query decides, on every request, so an ended or expired session, a refreshed or
    forgotten entry, or an entry past its TTL is never answered from memory.
    """
    key = _memo_key(ctx.engine, ctx, device_id, session_id)
    found = _remembered(ctx, key)
    if found is not None:
        return found
    body = benefits(ctx, device_id, session_id).model_dump_json().encode()
    # Remembered only if nothing changed while it was built (a refresh by another request).
    if key is not None and _memo_key(ctx.engine, ctx, device_id, session_id) == key:
        ctx.opened.put(key, body)
    return body


def remembered_json(ctx: EdgeContext, device_id: str, session_id: str) -> bytes | None:
    """`benefits_json`'s answer if memory holds it, decided with the event loop's own reader
    (no worker thread); None when there is no such reader, SQLite made it wait, or the answer
    must be built (then `benefits_json` on a worker thread)."""
    if ctx.loop_reader is None:
        return None
    try:
        key = _memo_key(ctx.loop_reader, ctx, device_id, session_id)
    except OperationalError:
        return None  # busy for longer than a loop may wait: the worker thread queues instead
    return _remembered(ctx, key)


def _remembered(ctx: EdgeContext, key: Hashable | None) -> bytes | None:
    found = ctx.opened.get(key) if key is not None else None
    if not isinstance(found, bytes):
        return None
    ctx.cache_stats.hit()  # the person's entry and the payments'
    ctx.cache_stats.hit()
    return found


def _memo_key(engine: Engine, ctx: EdgeContext, device_id: str,
              session_id: str) -> Hashable | None:
    """What the answer depends on, if it may come from memory; None if it must be built."""
    if len(session_id) > 64:
        return None
    with engine.connect().execution_options(**{SINGLE_READ_OPTION: True}) as conn:
        rows = conn.execute(_READ_STATE, {"id": session_id}).all()
    now = ctx.now()
    if not rows or rows[0].device_id != device_id or rows[0].ended_at is not None or (
            rows[0].expires_at <= now):
        return None  # the full path answers not-found
    ttl = dt.timedelta(seconds=ctx.settings.cache_ttl_s)
    entries = {row.kind: row for row in rows if row.kind is not None}
    if len(entries) != 2 or not all(
        dt.timedelta(0) <= now - entry.fetched_at < ttl for entry in entries.values()
    ):
        return None
    person, payments = entries[citizens.PERSON], entries[citizens.PAYMENTS]
    # The sealed bytes themselves, not only their nonces: a row changed in place (tampered
    # with) is never answered from memory.
    return ("benefits", session_id, rows[0].nonce, rows[0].payload,
            person.entry_nonce, person.entry_payload, person.fetched_at,
            payments.entry_nonce, payments.entry_payload, payments.fetched_at,
            now.astimezone(CHINA_TZ).date())


def benefits(ctx: EdgeContext, device_id: str, session_id: str) -> BenefitsView:
    session = live_session(ctx, device_id, session_id)
    person = citizens.person(ctx, session.citizen_id)
    payments = citizens.pension_payments(ctx, session.citizen_id)

    today = ctx.now().astimezone(CHINA_TZ).date()
    oldest = _period_minus(f"{today.year:04d}-{today.month:02d}", MONTHS - 1)
    items = sorted(
        (p for p in payments.value if p.period >= oldest), key=lambda p: p.period, reverse=True
    )[:MONTHS]
    answer = BenefitsView(
        # The older of the two answers: the whole page is no fresher than its oldest part.
        as_of=iso_utc(min(person.as_of, payments.as_of)),
        stale=person.stale or payments.stale,
        participation=[
            ParticipationView(
                scheme=p.scheme, scheme_name=p.scheme_name, status=p.status, since=p.since
            )
            for p in person.value.participation
        ],
        pension_payments=[
            PaymentView(
                period=p.period, amount=f"{p.amount:.2f}",
                paid_on=p.paid_on.isoformat() if p.paid_on else None, status=p.status,
                bank=p.bank, account_masked=mask_account(p.account),
            )
            for p in items
        ],
    )
    audit.append_view(
        ctx, device_id=device_id, action="benefits.viewed", session_id=session_id,
        masked_id=mask_citizen_id(session.citizen_id), outcome="stale" if answer.stale else "ok",
    )
    return answer
