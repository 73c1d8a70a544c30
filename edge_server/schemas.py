"""Bodies of the kiosk-facing API (docs/contracts/edge-api.md). Times are ISO 8601 UTC with Z,
money is a decimal string in yuan."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Text16 = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Text32 = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]


# -- requests ---------------------------------------------------------------------------------
class CardIdentity(BaseModel):
    """What the kiosk read from the social security card."""

    model_config = ConfigDict(extra="ignore")

    # Loose here on purpose: the service checks it and answers `invalid-citizen-id`.
    # Personal fields are left out of repr(): a model in a traceback must not leak them.
    citizen_id: Text32 = Field(repr=False)
    card_number: Text32 = Field(repr=False)
    name: Text64 | None = Field(None, repr=False)
    card_id_code: Text64 | None = Field(None, repr=False)
    spec_version: Text16 | None = None


class OpenSessionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    method: Literal["card"] = Field(description="`qr` and `face` come later.")
    card: CardIdentity


# -- answers ----------------------------------------------------------------------------------
class CitizenView(BaseModel):
    display_name: str = Field(description="Masked: 张三 -> 张*.")
    gender: str = Field(description="'1' male, '2' female.")
    age: int
    card_status: str


class SessionView(BaseModel):
    session_id: str
    expires_at: str
    citizen: CitizenView
    as_of: str
    stale: bool


class ParticipationView(BaseModel):
    scheme: str
    scheme_name: str
    status: str
    since: str


class PaymentView(BaseModel):
    period: str
    amount: str
    paid_on: str | None
    status: str
    bank: str
    account_masked: str


class BenefitsView(BaseModel):
    as_of: str
    stale: bool
    participation: list[ParticipationView]
    pension_payments: list[PaymentView]


class HealthView(BaseModel):
    status: Literal["ok"]
    version: str
    central: Literal["reachable", "unreachable", "unknown"]


class ProblemView(BaseModel):
    """RFC 9457 problem details (served as application/problem+json)."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None


def problems(*pairs: tuple[int, str]) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for the problem codes a route can answer."""
    out: dict[int | str, dict[str, object]] = {}
    for status, code in pairs:
        entry = out.setdefault(status, {"model": ProblemView, "description": ""})
        entry["description"] = f"{entry['description']}, {code}".lstrip(", ")
    return out
