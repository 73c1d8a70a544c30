"""Request and answer bodies of the simulator, and their construction from the population."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.device_id import DEVICE_ID_PATTERN
from simulators.central.population import Citizen, Contribution, Payment
from simulators.central.records import AccountYear, ContributionYear

Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
# Loose on purpose: the platform answers an unknown or malformed ID with 404, as a lookup.
CitizenIdText = Annotated[str, StringConstraints(min_length=1, max_length=32)]


# -- /central/v1 -------------------------------------------------------------------------------
class PersonQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    citizen_id: CitizenIdText


class PaymentsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    citizen_id: CitizenIdText
    from_period: Period | None = None
    to_period: Period | None = None


class TokenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    # The asking terminal: a code issued for one terminal is refused at any other.
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] | None = None


class Health(BaseModel):
    status: str
    as_of: str


# Read straight from the population's dataclasses (same field names): no copy to drift.
class CardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    card_number: str
    card_id_code: str
    generation: int
    status: str
    issued_on: dt.date
    expires_on: dt.date


class ParticipationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scheme: str
    scheme_name: str
    status: str
    since: str


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    citizen_id: str
    name: str
    gender: str
    birth_date: dt.date
    ethnicity: str
    region: str
    cards: list[CardOut]
    participation: list[ParticipationOut]


class PersonAnswer(BaseModel):
    as_of: str
    person: PersonOut


class PaymentOut(BaseModel):
    period: str
    amount: str = Field(description="Yuan, as a decimal string.")
    paid_on: dt.date
    status: str
    bank: str
    account: str

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            period=payment.period, amount=f"{payment.amount:.2f}", paid_on=payment.paid_on,
            status=payment.status, bank=payment.bank, account=payment.account,
        )


class PaymentsAnswer(BaseModel):
    as_of: str
    items: list[PaymentOut]


class ContributionOut(BaseModel):
    period: str
    scheme: str
    base: str = Field(description="Yuan, as a decimal string.")
    personal: str
    employer: str = Field(description="The employer's share, or the resident scheme's subsidy.")
    status: str

    @classmethod
    def of(cls, c: Contribution) -> ContributionOut:
        return cls(period=c.period, scheme=c.scheme, base=f"{c.base:.2f}",
                   personal=f"{c.personal:.2f}", employer=f"{c.employer:.2f}", status=c.status)


class ContributionsAnswer(BaseModel):
    as_of: str
    items: list[ContributionOut]


class ContributionYearOut(BaseModel):
    year: int
    scheme: str
    months: int = Field(description="Months paid; the resident scheme's payment covers 12.")
    arrears_months: int
    base: str = Field(description="The year's average monthly base, or the resident grade.")
    personal: str
    employer: str

    @classmethod
    def of(cls, y: ContributionYear) -> ContributionYearOut:
        return cls(year=y.year, scheme=y.scheme, months=y.months, arrears_months=y.arrears_months,
                   base=f"{y.base:.2f}", personal=f"{y.personal:.2f}", employer=f"{y.employer:.2f}")


class ContributionYearsAnswer(BaseModel):
    as_of: str
    citizen_id: str
    items: list[ContributionYearOut]


class AccountYearOut(BaseModel):
    year: int
    credited: str
    interest: str
    paid_out: str
    balance: str

    @classmethod
    def of(cls, y: AccountYear) -> AccountYearOut:
        return cls(year=y.year, credited=f"{y.credited:.2f}", interest=f"{y.interest:.2f}",
                   paid_out=f"{y.paid_out:.2f}", balance=f"{y.balance:.2f}")


class PensionAccountAnswer(BaseModel):
    as_of: str
    citizen_id: str
    scheme: str | None
    balance: str
    items: list[AccountYearOut]


class TokenAnswer(BaseModel):
    as_of: str
    citizen_id: str
    expires_at: str


# -- /sim/v1 -----------------------------------------------------------------------------------
class CitizenSummary(BaseModel):
    """One line of the test-data list: enough to put a card in a reader."""

    index: int
    citizen_id: str
    name: str
    gender: str
    birth_date: dt.date
    age: int
    region: str
    region_name: str
    ethnicity: str
    card: CardOut = Field(description="The current card (the last issued).")
    spec_version: str
    receiving_pension: bool

    @classmethod
    def of(cls, citizen: Citizen, today: dt.date) -> CitizenSummary:
        card = citizen.current_card
        return cls(
            index=citizen.index, citizen_id=citizen.citizen_id, name=citizen.name,
            gender=citizen.gender, birth_date=citizen.birth_date, age=citizen.age(today),
            region=citizen.region, region_name=citizen.region_name,
            ethnicity=citizen.ethnicity, card=CardOut.model_validate(card),
            spec_version=card.spec_version,
            receiving_pension=citizen.pension is not None,
        )


class CitizenPage(BaseModel):
    total: int = Field(description="Size of the population.")
    items: list[CitizenSummary]
    next_offset: int | None = Field(
        description="Where to continue scanning; null at the end of the population."
    )


class PensionOut(BaseModel):
    scheme: str
    start: str
    monthly_at_start: str
    bank: str
    account: str
    pay_day: int


class HouseholdOut(BaseModel):
    household_id: str
    members: list[int] = Field(description="Population indexes of its members, head first.")
    head: int
    local: bool = Field(description="Registered (本地户籍) in the province.")
    low_income: bool = Field(description="A 城乡低保 household.")


class CitizenDetail(CitizenSummary):
    cards: list[CardOut]
    participation: list[ParticipationOut]
    pension: PensionOut | None
    # Issue 6 (filled by the route from the citizen's profile).
    service_pin: str | None = Field(
        None, description="The test PIN, for testers; the platform keeps only a salted hash.")
    household_id: str | None = None
    household: HouseholdOut | None = None
    deceased_on: dt.date | None = None
    employment: str | None = None
    unemployment_insurance_months: int | None = None
    unemployment_registered: bool | None = None
    startup_registered_on: dt.date | None = None
    eligible_for: list[str] = Field(
        default_factory=list, description="Subsidies claimable for the current period.")

    @classmethod
    def of(cls, citizen: Citizen, today: dt.date) -> CitizenDetail:
        pension = citizen.pension
        return cls(
            **CitizenSummary.of(citizen, today).model_dump(),
            cards=[CardOut.model_validate(c) for c in citizen.cards],
            participation=[ParticipationOut.model_validate(p) for p in citizen.participation],
            pension=None if pension is None else PensionOut(
                scheme=pension.scheme, start=pension.start,
                monthly_at_start=f"{pension.monthly_at_start:.2f}", bank=pension.bank,
                account=pension.account, pay_day=pension.pay_day,
            ),
        )


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    citizen_id: CitizenIdText
    # e-SSC codes live a minute at most (simulators/central/ecard_tokens.py).
    ttl_s: int = Field(60, ge=1, le=60)
    # Issue the code for this terminal only (None: any terminal may verify it).
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] | None = None


class TokenIssued(BaseModel):
    token: str
    expires_at: str
