"""The contract's answers (docs/contracts/central-api.md) as bounded data types.

Every string has a length and a shape, every list a maximum, every number and date a range: an
answer that does not fit is a bad answer, whatever the platform meant. What needs the time of
the call or the question asked (identity, "not in the future") is in `validation`. Personal
fields are hidden from repr: tracebacks get logged.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from common import citizen_id as citizen_ids

MAX_CARDS = 16
MAX_PARTICIPATION = 32
MAX_PAYMENTS = 600  # fifty years of monthly pensions; the edge asks for 24 months
MAX_AMOUNT = Decimal("1000000.00")  # yuan; no monthly pension comes near
EARLIEST = dt.date(1880, 1, 1)
LATEST = dt.date(2200, 1, 1)

# Controls and unpaired surrogates are never text; bidirectional overrides would let a name
# display as something else.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _well_formed(text: str) -> str:
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000 or char in _BIDI:
            raise ValueError("control, surrogate or bidi character")
    if text != text.strip():
        raise ValueError("leading or trailing space")
    return text


def _in_range(day: dt.date) -> dt.date:
    if not EARLIEST <= day < LATEST:
        raise ValueError("date out of range")
    return day


def _valid_citizen_id(value: str) -> str:
    if not citizen_ids.is_valid(value):
        raise ValueError("not a valid citizen ID")
    return value


Text64 = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_well_formed)
]
Day = Annotated[dt.date, AfterValidator(_in_range)]
Period = Annotated[
    str, StringConstraints(pattern=r"^(19[5-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])$")
]
CitizenIdText = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{17}[0-9X]$"), AfterValidator(_valid_citizen_id)
]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class _Answer(BaseModel):
    # Unknown fields are ignored (the platform may add some), strictly typed otherwise.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CentralCard(_Answer):
    card_number: str = Field(repr=False, pattern=r"^[A-Za-z0-9]{1,32}$")
    card_id_code: str = Field("", repr=False, pattern=r"^[\x21-\x7e]{0,64}$")
    generation: int | None = Field(None, ge=1, le=9)
    status: Literal["normal", "reported-lost", "replaced", "cancelled", "blacklisted"]
    issued_on: Day | None = None
    expires_on: Day | None = None


class CentralParticipation(_Answer):
    scheme: Slug
    scheme_name: Text64
    status: Slug
    since: Period


class CentralPerson(_Answer):
    citizen_id: CitizenIdText = Field(repr=False)
    name: Text64 = Field(repr=False)
    gender: Literal["0", "1", "2", "9"]  # GB/T 2261.1
    birth_date: Day = Field(repr=False)
    ethnicity: str = Field("", pattern=r"^([0-9]{2})?$")
    region: str = Field("", repr=False, pattern=r"^([0-9]{6})?$")
    cards: list[CentralCard] = Field(max_length=MAX_CARDS)
    participation: list[CentralParticipation] = Field(max_length=MAX_PARTICIPATION)


class CentralPayment(_Answer):
    period: Period
    amount: Decimal = Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False)
    paid_on: Day | None = None
    status: Literal["paid", "pending", "returned"]
    bank: Text64
    account: str = Field(repr=False, pattern=r"^[0-9A-Za-z]{4,34}$")


class PersonAnswer(_Answer):
    as_of: AwareDatetime
    person: CentralPerson


class PaymentsAnswer(_Answer):
    as_of: AwareDatetime
    items: list[CentralPayment] = Field(max_length=MAX_PAYMENTS)


class TokenAnswer(_Answer):
    as_of: AwareDatetime | None = None
    citizen_id: CitizenIdText = Field(repr=False)
    expires_at: AwareDatetime
