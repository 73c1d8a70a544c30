"""A citizen's contribution history by year and pension personal account (个人账户), both
computed from the seeded monthly contributions (Population.contributions), so that the three
queries can never disagree and the same citizen always gets the same answer."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from simulators.central.population import Citizen, Contribution, Population

# The whole working life: the earliest period the contract allows.
EARLIEST_PERIOD = "1950-01"
# The unified personal account dates from 1997 (国发〔1997〕26号); earlier working years count
# as deemed contributions (视同缴费) and credit nothing to it.
ACCOUNT_FROM_YEAR = 1997
# The yearly interest credited to personal accounts (记账利率): the published national rates
# from 2016, a flat rate before and for years not yet announced. A simulator's figures, close
# to the real ones; nothing depends on them being exact.
_RATES: dict[int, Decimal] = {
    2016: Decimal("0.0831"), 2017: Decimal("0.0712"), 2018: Decimal("0.0829"),
    2019: Decimal("0.0761"), 2020: Decimal("0.0604"), 2021: Decimal("0.0669"),
    2022: Decimal("0.0612"), 2023: Decimal("0.0397"), 2024: Decimal("0.0262"),
}
_RATE_BEFORE = Decimal("0.03")
_RATE_LATER = Decimal("0.025")
# Months over which the account is paid out (计发月数), by age at retirement.
_DIVISORS = {50: 195, 55: 170, 60: 139}
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ContributionYear:
    year: int
    scheme: str
    months: int  # months paid (the resident scheme's yearly payment covers 12)
    arrears_months: int
    base: Decimal  # the year's average monthly base, or the resident scheme's grade
    personal: Decimal  # paid months only
    employer: Decimal  # the employer's share, or the resident scheme's subsidy


@dataclass(frozen=True)
class AccountYear:
    year: int
    credited: Decimal  # contributions credited to the account that year
    interest: Decimal  # credited at the year's end: none yet for the current year
    paid_out: Decimal  # the personal-account part of the pension
    balance: Decimal  # at the year's end (today, for the current year)


@dataclass(frozen=True)
class PensionAccount:
    scheme: str | None  # the pension scheme the account belongs to; None without one
    balance: Decimal
    years: tuple[AccountYear, ...]  # newest first


def _rate(year: int) -> Decimal:
    if year in _RATES:
        return _RATES[year]
    return _RATE_BEFORE if year < min(_RATES) else _RATE_LATER


def _all_contributions(population: Population, citizen: Citizen,
                       today: dt.date) -> list[Contribution]:
    return population.contributions(citizen, today, EARLIEST_PERIOD)


def contribution_years(population: Population, citizen: Citizen,
                       today: dt.date) -> list[ContributionYear]:
    """Per year and scheme, newest first."""
    grouped: dict[tuple[int, str], list[Contribution]] = defaultdict(list)
    for c in _all_contributions(population, citizen, today):
        grouped[(int(c.period[:4]), c.scheme)].append(c)
    out = []
    for (year, scheme), items in grouped.items():
        paid = [c for c in items if c.status == "paid"]
        resident = scheme == "resident-pension"
        base = sum((c.base for c in items), Decimal(0)) / len(items)
        out.append(ContributionYear(
            year=year, scheme=scheme,
            months=(12 if paid else 0) if resident else len(paid),
            arrears_months=(0 if paid else 12) if resident else len(items) - len(paid),
            base=base.quantize(_CENT, ROUND_HALF_UP),
            personal=sum((c.personal for c in paid), Decimal(0)),
            employer=sum((c.employer for c in paid), Decimal(0)),
        ))
    return sorted(out, key=lambda y: (y.year, y.scheme), reverse=True)


def pension_account(population: Population, citizen: Citizen,
                    today: dt.date) -> PensionAccount:
    """The account of the citizen's pension scheme: credited each year with the personal
    contributions (the resident scheme: with its subsidy too), interest on the opening balance
    at each year's end, and paid out monthly once the pension has started."""
    scheme = next((p.scheme for p in citizen.participation
                   if p.scheme in ("employee-pension", "resident-pension")), None)
    if scheme is None:
        return PensionAccount(None, Decimal("0.00"), ())
    credits: dict[int, Decimal] = defaultdict(Decimal)
    for c in _all_contributions(population, citizen, today):
        year = int(c.period[:4])
        if c.scheme == scheme and c.status == "paid" and year >= ACCOUNT_FROM_YEAR:
            credits[year] += c.personal + (c.employer if scheme == "resident-pension" else 0)
    if not credits:  # retired before the accounts began, or nothing paid since
        return PensionAccount(scheme, Decimal("0.00"), ())
    pension = citizen.pension
    start_year = pension_start_month = None
    if pension is not None:
        start_year, pension_start_month = int(pension.start[:4]), int(pension.start[5:])
    balance = Decimal("0.00")
    monthly: Decimal | None = None
    years: list[AccountYear] = []
    for year in range(min(credits), today.year + 1):
        opening = balance
        credited = credits.get(year, Decimal("0.00"))
        paid_out = Decimal("0.00")
        if pension is not None and start_year is not None and year >= start_year:
            if monthly is None:  # fixed at retirement: the balance then over the divisor
                age = start_year - citizen.birth_date.year
                divisor = _DIVISORS.get(min(_DIVISORS, key=lambda a: abs(a - age)), 139)
                monthly = (opening / divisor).quantize(_CENT, ROUND_HALF_UP)
            first_month = pension_start_month if year == start_year else 1
            last_month = today.month if year == today.year else 12
            due = monthly * max(last_month - first_month + 1, 0)
            paid_out = min(due, opening + credited)
        interest = (Decimal("0.00") if year == today.year
                    else (opening * _rate(year)).quantize(_CENT, ROUND_HALF_UP))
        balance = opening + credited + interest - paid_out
        years.append(AccountYear(year, credited, interest, paid_out, balance))
    return PensionAccount(scheme, balance, tuple(reversed(years)))
