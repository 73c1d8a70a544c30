"""Bodies of the kiosk-facing API (docs/contracts/edge-api.md). Times are ISO 8601 UTC with Z,
money is a decimal string in yuan.

Every request field is bounded and typed as data (ASCII where the card gives ASCII, lengths,
enums), so that no value can reach code that would fail on it (an encoder, a database key) and
the OpenAPI document says exactly what is accepted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from common.clock import iso_utc

__all__ = ["iso_utc"]  # re-exported: the services format times through here

# Printable ASCII (the card's "an" fields).
_ASCII = r"^[\x20-\x7e]+$"


def _no_surrogates(value: str) -> str:
    # A JSON "\ud800" escape decodes to a lone surrogate, which no encoder accepts later.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


AsciiText16 = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=_ASCII)]
AsciiText32 = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_ASCII)]
HexCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$")]
# A name: any text but control characters (Han, minority scripts, middle dots).
NameText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"),
    AfterValidator(_no_surrogates),
]


# -- requests ---------------------------------------------------------------------------------
class CardIdentity(BaseModel):
    """What the kiosk read from the social security card."""

    model_config = ConfigDict(extra="ignore")

    # Loose shape on purpose (any ASCII): the service checks it and answers
    # `invalid-citizen-id`. Personal fields are left out of repr(): a model in a traceback
    # must not leak them.
    citizen_id: AsciiText32 = Field(repr=False)
    card_number: AsciiText32 = Field(repr=False)
    name: NameText | None = Field(None, repr=False)
    card_id_code: HexCode | None = Field(None, repr=False)
    spec_version: AsciiText16 | None = None


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


class DeviceTokenView(BaseModel):
    device_id: str
    token: str = Field(description="The new bearer token (dev2); the old one stays valid.")
    expires_at: str


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
    errors: list[dict[str, object]] | None = Field(
        None, description="validation-error: where and what, never the submitted values"
    )


def problems(*pairs: tuple[int, str]) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for the problem codes a route can answer."""
    out: dict[int | str, dict[str, object]] = {}
    for status, code in pairs:
        entry = out.setdefault(status, {"model": ProblemView, "description": ""})
        entry["description"] = f"{entry['description']}, {code}".lstrip(", ")
    return out
