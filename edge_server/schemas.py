"""Bodies of the kiosk-facing API (docs/contracts/edge-api.md). Times are ISO 8601 UTC with Z,
money is a decimal string in yuan.

Every request field is bounded and typed as data (ASCII where the card gives ASCII, lengths,
enums), so that no value can reach code that would fail on it (an encoder, a database key) and
the OpenAPI document says exactly what is accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

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


# What a QR scanner read: loose on purpose (any printable ASCII, bounded); the service answers
# anything that is not an e-SSC token's shape ([A-Za-z0-9_-]) with `token-invalid`, like a
# forged one, without asking central.
TokenText = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=_ASCII)]
# A resident ID card's name field is at most 15 Han characters; 30 leaves room for
# minority names in their script.
IdCardName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=30, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"),
    AfterValidator(_no_surrogates),
]
LONG_TERM = "长期"  # 有效期限 of a card valid for life (holders 46 and older)


def _validity(value: str) -> str:
    if value != LONG_TERM:
        dt.date.fromisoformat(value)  # ValueError: 422 validation-error
    return value


ValidUntil = Annotated[
    str, StringConstraints(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|长期)$"),
    AfterValidator(_validity),
]


class QrCredential(BaseModel):
    """What the kiosk scanned from an electronic social security card (电子社保卡)."""

    model_config = ConfigDict(extra="ignore")

    # A credential: out of repr() like the card's personal fields.
    token: TokenText = Field(repr=False, description="Opaque; ≤ 512 chars of [A-Za-z0-9_-].")


class IdCardIdentity(BaseModel):
    """What the kiosk read from a resident ID card (二代身份证)."""

    model_config = ConfigDict(extra="ignore")

    citizen_id: AsciiText32 = Field(repr=False)
    name: IdCardName = Field(repr=False)
    valid_until: ValidUntil = Field(description="YYYY-MM-DD, or 长期 (no end).")


class OpenSessionRequest(BaseModel):
    """One of three ways to identify: `card` (social security card), `qr` (electronic card
    code) or `idcard` (resident ID card); the object named by `method` is required."""

    model_config = ConfigDict(extra="ignore")

    method: Literal["card", "qr", "idcard"] = Field(description="`face` comes later.")
    card: CardIdentity | None = None
    qr: QrCredential | None = None
    idcard: IdCardIdentity | None = None

    @model_validator(mode="after")
    def _named_credential(self) -> OpenSessionRequest:
        if getattr(self, self.method) is None:
            raise ValueError(f"method {self.method!r} needs its {self.method!r} object")
        return self


# A subsidy code, its claim period, and a form field as the catalogue names them
# (central-api.md 1.1): `period` is YYYY (yearly), YYYY-MM (monthly) or `once`.
SubsidyCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
ClaimPeriod = Annotated[
    str,
    StringConstraints(pattern=r"^(once|(19|20|21)[0-9]{2}|(19|20|21)[0-9]{2}-(0[1-9]|1[0-2]))$"),
]
FormFieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Every field kind of the catalogue (`phone`, `digits`) is digits only.
FormFieldValue = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
ServicePin = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RECEIPT_PATTERN = r"^R[0-9]{8}[0-9A-HJKMNP-TV-Z]{10}$"
MAX_FORM_FIELDS = 4


class ApplicationRequest(BaseModel):
    """A subsidy application of the session's citizen, or its pre-check (same body)."""

    model_config = ConfigDict(extra="ignore")

    subsidy: SubsidyCode
    period: ClaimPeriod
    # Personal (a phone number): out of repr like the card's fields.
    form: dict[FormFieldName, FormFieldValue] = Field(
        default_factory=dict, max_length=MAX_FORM_FIELDS, repr=False,
        description="At most 4 fields of the subsidy's `form_fields`, digits only.",
    )


class LossReportRequest(BaseModel):
    """A temporary loss report without the card: the ID number and the service PIN."""

    model_config = ConfigDict(extra="ignore")

    # Loose shape on purpose, as on the card: the service answers `invalid-citizen-id`.
    citizen_id: AsciiText32 = Field(repr=False)
    pin: ServicePin = Field(repr=False, description="The 6-digit social-security service PIN.")


class LossReversalRequest(BaseModel):
    """Reversing a loss report (解挂): the card at the terminal and its service PIN."""

    model_config = ConfigDict(extra="ignore")

    card: CardIdentity
    pin: ServicePin = Field(repr=False, description="The 6-digit social-security service PIN.")


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


class FormFieldView(BaseModel):
    name: str
    kind: Literal["phone", "digits"] = Field(
        description="`phone`: 11 digits starting with 1; `digits`: 1..max_length digits."
    )
    max_length: int | None = None


class SubsidyView(BaseModel):
    code: str
    name: str
    amount: str | None = Field(description="Yuan, 2 decimals; null when computed later.")
    period: str
    eligible: bool
    reason_code: str | None
    reason: str | None = Field(description="Why not eligible, in plain Chinese.")
    form_fields: list[FormFieldView]


class SubsidiesView(BaseModel):
    as_of: str
    stale: bool
    items: list[SubsidyView]


class FindingView(BaseModel):
    code: str
    message: str = Field(description="Plain Chinese text for the citizen.")


class PrecheckView(BaseModel):
    ok: bool
    findings: list[FindingView]
    checked: bool = Field(
        description="false: central could not be reached; the application may still be made "
                    "and is checked when it is sent."
    )


class ReceiptView(BaseModel):
    """A submission's receipt: what the kiosk prints. No personal data."""

    receipt_no: str
    qr: str = Field(description="`hrss:receipt:<receipt_no>`, the receipt's QR code payload.")
    kind: str
    state: Literal["sent", "queued", "refused"]
    submitted_at: str
    sent_at: str | None
    application_no: str | None
    refusal_code: str | None
    refusal_message: str | None
    findings: list[FindingView]


class HistoryView(BaseModel):
    status: str
    at: str
    reason: str | None


class ApplicationView(BaseModel):
    application_no: str
    receipt_no: str | None = Field(description="When it was made through this edge.")
    subsidy: str
    subsidy_name: str
    period: str
    amount: str | None
    status: str
    history: list[HistoryView]
    bank: str | None
    account_masked: str | None


class ApplicationsView(BaseModel):
    as_of: str
    stale: bool
    items: list[ApplicationView] = Field(description="Newest first.")
    queued: list[ReceiptView] = Field(description="This citizen's submissions not yet sent.")


class CardView(BaseModel):
    card_number_masked: str
    status: Literal["normal", "reported-lost", "replaced", "cancelled", "blacklisted",
                    "unknown"]
    as_of: str
    stale: bool


class DeviceTokenView(BaseModel):
    device_id: str
    token: str = Field(description="The new bearer token (dev2); the old one stays valid.")
    expires_at: str


class OutboxHealthView(BaseModel):
    depth: int = Field(description="Submissions not yet at central.")
    oldest_pending_age_s: float | None
    dead_letters: int = Field(description="Refused submissions not retried yet.")
    full: bool = Field(description="At its bound: new submissions are refused (outbox-full).")


class HealthView(BaseModel):
    status: Literal["ok"]
    version: str
    central: Literal["reachable", "unreachable", "unknown"]
    outbox: OutboxHealthView
    cache_hit_ratio: float | None = Field(
        description="Citizen lookups the cache answered, of all since the start; null before "
                    "the first.")


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


# -- pension qualification certification (issue 7) ----------------------------------------------
def _aware_iso(text: str) -> str:
    # Kept as the terminal wrote it (its signature covers the text); checked to be a time.
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("a time without its UTC offset")
    return text


CertificationState = Literal["due", "done", "not-due", "not-pensioner", "deceased"]


class CertificationStatusView(BaseModel):
    """The session citizen's certification status. `template` is the enrolled face (128
    values) for the kiosk's on-terminal 1:1 check: held in memory there, never stored."""

    citizen_id: str = Field(repr=False, description="The session's citizen: the kiosk puts it "
                            "in the record it signs (never shown or logged).")
    status: CertificationState
    reason_code: str | None = Field(description="Why a certification would be refused now "
                                    "(null when due).")
    due_date: str | None
    opens_on: str | None
    cycle_months: int
    last_certified_at: str | None
    explanation: str = Field(description="Plain Chinese, for the citizen.")
    template: list[float] | None = Field(repr=False)
    as_of: str
    stale: bool
    pending: bool = Field(description="A certification of this citizen is on its way to "
                          "central from this edge.")


class CertificationRecordIn(BaseModel):
    """The record the terminal signed (Ed25519, common/signing.py): every key is required
    (null where allowed), because the signature covers exactly these."""

    model_config = ConfigDict(extra="forbid")

    citizen_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9Xx]$")] = Field(
        repr=False)
    certified_at: Annotated[str, StringConstraints(min_length=20, max_length=40),
                            AfterValidator(_aware_iso)]
    method: Literal["hall", "field"]
    device_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    location: Annotated[str, StringConstraints(min_length=1, max_length=64),
                        AfterValidator(_no_surrogates)]
    staff_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")] | (
        None)
    evidence_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    result: Literal["passed"]
    liveness_version: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,40}$")]
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]


class CertificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: dict[str, object] = Field(
        repr=False, description="The kiosk's liveness evidence (drivers.face evidence_to_json): "
        "at most 8 JPEG frames of 200 KB; its sha256 (common.signing.evidence_sha256) is the "
        "record's evidence_sha256.")
    record: CertificationRecordIn


class CertificationReceiptView(BaseModel):
    """The receipt of a certification: what the kiosk shows and prints. No personal data."""

    certification_id: str = Field(description="The edge's id of this certification (its "
                                  "receipt number).")
    receipt_no: str
    qr: str
    kind: Literal["pension-certification"]
    state: Literal["sent", "queued", "refused"]
    submitted_at: str
    sent_at: str | None
    certified_at: str
    certification_no: str | None = Field(description="Central's number, once recorded.")
    next_due_date: str | None
    refusal_code: str | None
    refusal_message: str | None
