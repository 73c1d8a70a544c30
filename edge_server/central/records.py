"""The central platform's contribution history by year and pension personal account
(docs/contracts/central-api.md, "contributions/yearly" and "pension-account/query"): answers
as bounded data types, their checks against the question and the time, one function per call
through `CentralClient.call`. Every refusal is a `BadAnswer` (an outage to the caller)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common import citizen_id as citizen_ids
from common.clock import CHINA_TZ
from edge_server.central.client import CentralClient
from edge_server.central.errors import BadAnswer
from edge_server.central.validation import MAX_CLOCK_SKEW
from edge_server.central.wire import CitizenIdText, Slug

CONTRIBUTION_YEARS = "/central/v1/contributions/yearly"
PENSION_ACCOUNT = "/central/v1/pension-account/query"

MAX_SCHEMES_A_YEAR = 4
MAX_YEARS = 100  # a working life and a retirement, with room to spare
MAX_CONTRIBUTION_YEARS = MAX_YEARS * MAX_SCHEMES_A_YEAR
MAX_MONEY = Decimal("100000000.00")  # yuan; a lifetime's account stays far below

Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2, allow_inf_nan=False)]
Year = Annotated[int, Field(ge=1950, le=2199)]
Months = Annotated[int, Field(ge=0, le=12)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ContributionYear(_Answer):
    year: Year
    scheme: Slug
    months: Months
    arrears_months: Months
    base: Money
    personal: Money
    employer: Money


class ContributionYearsAnswer(_Answer):
    as_of: AwareDatetime
    citizen_id: CitizenIdText = Field(repr=False)
    items: list[ContributionYear] = Field(max_length=MAX_CONTRIBUTION_YEARS)


class AccountYear(_Answer):
    year: Year
    credited: Money
    interest: Money
    paid_out: Money
    balance: Money


class PensionAccountAnswer(_Answer):
    as_of: AwareDatetime
    citizen_id: CitizenIdText = Field(repr=False)
    scheme: Slug | None = None
    balance: Money
    items: list[AccountYear] = Field(max_length=MAX_YEARS)


def _check_common(as_of: dt.datetime, answered: str, asked: str, now: dt.datetime) -> int:
    """The checks every answer about a citizen passes; returns the latest plausible year."""
    if abs(as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from the edge's clock")
    if citizen_ids.normalize(answered) != citizen_ids.normalize(asked):
        raise BadAnswer("citizen_id: not the citizen asked for")
    return (now + MAX_CLOCK_SKEW).astimezone(CHINA_TZ).year


def check_contribution_years(answer: ContributionYearsAnswer, asked: str,
                             now: dt.datetime) -> ContributionYearsAnswer:
    latest = _check_common(answer.as_of, answer.citizen_id, asked, now)
    keys = [(item.year, item.scheme) for item in answer.items]
    if len(set(keys)) != len(keys):
        raise BadAnswer("items: a year and scheme repeated")
    for item in answer.items:
        if item.year > latest:
            raise BadAnswer("items.year: in the future")
        if item.months + item.arrears_months > 12:
            raise BadAnswer("items: more than 12 months in a year")
    return answer


def check_pension_account(answer: PensionAccountAnswer, asked: str,
                          now: dt.datetime) -> PensionAccountAnswer:
    latest = _check_common(answer.as_of, answer.citizen_id, asked, now)
    years = [item.year for item in answer.items]
    if len(set(years)) != len(years):
        raise BadAnswer("items.year: repeated")
    if any(year > latest for year in years):
        raise BadAnswer("items.year: in the future")
    if answer.items and answer.scheme is None:
        raise BadAnswer("scheme: missing on an account with entries")
    # The balance is the newest entry's (or nothing without entries): two figures that
    # disagree would put one wrong amount on a pensioner's screen.
    newest = max(answer.items, key=lambda item: item.year, default=None)
    if answer.balance != (newest.balance if newest is not None else 0):
        raise BadAnswer("balance: not the newest entry's")
    return answer


def query_contribution_years(client: CentralClient, citizen_id: str,
                             now: dt.datetime) -> ContributionYearsAnswer:
    return client.call(
        CONTRIBUTION_YEARS, {"citizen_id": citizen_id}, ContributionYearsAnswer,
        lambda a: check_contribution_years(a, citizen_id, now),
    )


def query_pension_account(client: CentralClient, citizen_id: str,
                          now: dt.datetime) -> PensionAccountAnswer:
    return client.call(
        PENSION_ACCOUNT, {"citizen_id": citizen_id}, PensionAccountAnswer,
        lambda a: check_pension_account(a, citizen_id, now),
    )
