"""The session citizen's contribution history by year and pension personal account, cached
(sealed) like the benefits: within the TTL the cache answers, then central, then the cache as
`stale` while central is down (services/citizens.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from common.clock import iso_utc
from edge_server.central import records
from edge_server.central.records import ContributionYear
from edge_server.context import EdgeContext
from edge_server.services import citizens
from edge_server.services.sessions import live_session
from edge_server.services.subsidies import audit_view

# The cache's kinds (at most 16 characters: the column's width).
CONTRIBUTION_YEARS = "contrib-years"
PENSION_ACCOUNT = "pension-account"

_YEARS = TypeAdapter(list[ContributionYear])
_ACCOUNT = TypeAdapter(records.PensionAccountAnswer)


# -- what the kiosk gets (edge-api.md) ------------------------------------------------------------
class ContributionYearView(BaseModel):
    year: int
    scheme: str
    months: int = Field(description="Months paid that year (the resident scheme: 12 when paid).")
    arrears_months: int
    base: str = Field(description="Yuan: the year's average monthly base, or the resident grade.")
    personal: str
    employer: str = Field(description="The employer's share, or the resident scheme's subsidy.")


class ContributionsView(BaseModel):
    as_of: str
    stale: bool
    items: list[ContributionYearView] = Field(description="Newest year first.")


class AccountYearView(BaseModel):
    year: int
    credited: str
    interest: str
    paid_out: str
    balance: str = Field(description="At the year's end (today, for the current year).")


class PensionAccountView(BaseModel):
    as_of: str
    stale: bool
    scheme: str | None
    balance: str
    items: list[AccountYearView] = Field(description="Newest year first.")


def _money(value: Any) -> str:
    return f"{value:.2f}"


def contributions(ctx: EdgeContext, device_id: str, session_id: str) -> ContributionsView:
    session = live_session(ctx, device_id, session_id)
    cid = session.citizen_id

    def fetch() -> tuple[dt.datetime, Any]:
        answer = records.query_contribution_years(ctx.central, cid, ctx.now())
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    fresh = citizens.cached(ctx, cid, CONTRIBUTION_YEARS, fetch, _YEARS.validate_python)
    items = sorted(fresh.value, key=lambda y: (y.year, y.scheme), reverse=True)
    view = ContributionsView(
        as_of=iso_utc(fresh.as_of), stale=fresh.stale,
        items=[ContributionYearView(
            year=y.year, scheme=y.scheme, months=y.months, arrears_months=y.arrears_months,
            base=_money(y.base), personal=_money(y.personal), employer=_money(y.employer),
        ) for y in items],
    )
    audit_view(ctx, device_id, session_id, cid, "contributions.viewed",
               "stale" if fresh.stale else "ok")
    return view


def pension_account(ctx: EdgeContext, device_id: str, session_id: str) -> PensionAccountView:
    session = live_session(ctx, device_id, session_id)
    cid = session.citizen_id

    def fetch() -> tuple[dt.datetime, Any]:
        answer = records.query_pension_account(ctx.central, cid, ctx.now())
        return answer.as_of, answer.model_dump(mode="json")

    fresh = citizens.cached(ctx, cid, PENSION_ACCOUNT, fetch, _ACCOUNT.validate_python)
    account = fresh.value
    view = PensionAccountView(
        as_of=iso_utc(fresh.as_of), stale=fresh.stale, scheme=account.scheme,
        balance=_money(account.balance),
        items=[AccountYearView(
            year=y.year, credited=_money(y.credited), interest=_money(y.interest),
            paid_out=_money(y.paid_out), balance=_money(y.balance),
        ) for y in sorted(account.items, key=lambda y: y.year, reverse=True)],
    )
    audit_view(ctx, device_id, session_id, cid, "pension-account.viewed",
               "stale" if fresh.stale else "ok")
    return view
