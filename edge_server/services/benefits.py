"""What the citizen of a session may see: participation and the last 24 months of pension."""

from __future__ import annotations

import logging

from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_account, mask_citizen_id
from edge_server import audit
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction
from edge_server.schemas import BenefitsView, ParticipationView, PaymentView
from edge_server.services import citizens
from edge_server.services.sessions import live_session

MONTHS = 24

log = logging.getLogger(__name__)


def _period_minus(period: str, months: int) -> str:
    year, month = map(int, period.split("-"))
    total = year * 12 + month - 1 - months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


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
    now = ctx.now()
    run_in_transaction(
        ctx.engine,
        lambda db: audit.append(
            db, at=now, device_id=device_id, action="benefits.viewed", session_id=session_id,
            masked_id=mask_citizen_id(session.citizen_id),
            outcome="stale" if answer.stale else "ok",
        ),
    )
    return answer
