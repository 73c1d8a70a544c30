"""The subsidy catalogue: what a citizen may claim, for which period, on which conditions.

The rules follow the national policies in spirit (ages, employment, unemployment insurance,
household), simplified so that a tester can predict them from a citizen's profile.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from simulators.central.profiles import period_of

PeriodKind = Literal["yearly", "monthly", "once"]
STARTUP_WINDOW_DAYS = 3 * 365  # 一次性创业补贴: a business registered in the last three years
UNEMPLOYMENT_MONTHLY = Decimal("1850.00")  # set when an unemployment claim is approved
_PHONE = re.compile(r"1[0-9]{10}")


@dataclass(frozen=True)
class FormField:
    name: str
    kind: Literal["phone", "digits"]
    max_length: int | None = None

    def valid(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if self.kind == "phone":
            return _PHONE.fullmatch(value) is not None
        return value.isascii() and value.isdigit() and len(value) <= (self.max_length or 32)


@dataclass(frozen=True)
class SubsidyRule:
    code: str
    name: str
    amount: Decimal | None  # None: computed when decided
    period_kind: PeriodKind
    min_age: int
    max_age: int
    employment: frozenset[str]
    min_insurance_months: int = 0
    needs_unemployment_registration: bool = False
    needs_recent_startup: bool = False
    household: Literal["low-income", "local"] | None = None
    form_fields: tuple[FormField, ...] = ()

    def period(self, today: dt.date) -> str:
        return period_of(self.period_kind, today)

    def form_error(self, form: dict[str, object]) -> str | None:
        """Why a form does not fit this subsidy (for the caller, in English), or None."""
        expected = {f.name: f for f in self.form_fields}
        if set(form) != set(expected):
            return f"the form of {self.code} has the fields {', '.join(sorted(expected))}"
        bad = sorted(name for name, f in expected.items() if not f.valid(form[name]))
        return f"invalid form fields: {', '.join(bad)}" if bad else None


PHONE = FormField("phone", "phone")
CATALOGUE: dict[str, SubsidyRule] = {
    rule.code: rule for rule in (
        SubsidyRule(
            "skill-upgrade", "职业技能提升补贴", Decimal("1500.00"), "yearly", 16, 60,
            frozenset({"employed"}), min_insurance_months=12,
            form_fields=(PHONE, FormField("certificate_number", "digits", 20)),
        ),
        SubsidyRule(
            "job-seeking", "求职创业补贴", Decimal("1000.00"), "yearly", 18, 35,
            frozenset({"unemployed", "none"}), household="low-income", form_fields=(PHONE,),
        ),
        SubsidyRule(
            "startup-once", "一次性创业补贴", Decimal("5000.00"), "once", 18, 60,
            frozenset({"self-employed"}), needs_recent_startup=True, household="local",
            form_fields=(PHONE, FormField("business_registration_number", "digits", 15)),
        ),
        SubsidyRule(
            "unemployment", "失业保险金", None, "monthly", 16, 59, frozenset({"unemployed"}),
            min_insurance_months=12, needs_unemployment_registration=True,
            form_fields=(PHONE,),
        ),
    )
}
SUBSIDY_NAMES = {code: rule.name for code, rule in CATALOGUE.items()}
