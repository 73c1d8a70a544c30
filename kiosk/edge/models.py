"""The kiosk's own view of the edge API (docs/contracts/edge-api.md): what it sends, what it reads.

Kept separate from edge_server's models on purpose: the kiosk must not import the server, and
`tests/contracts/` checks that both sides agree. Unknown fields are ignored so that the edge can
add fields without breaking terminals that have not been updated yet; every field the kiosk does
read is bounded and ranged, because an answer is data from a peer and is checked before it is
shown (a wrong amount on a pensioner's screen is worse than "please try later").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

log = logging.getLogger(__name__)

# -- bounds of what is shown ------------------------------------------------------------------
Short = Annotated[str, StringConstraints(max_length=64)]
Label = Annotated[str, StringConstraints(max_length=128)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                             pattern=r"^[A-Za-z0-9_-]+$")]
# "YYYY-MM" with a real month: a period is shown as 2026年10月.
Period = Annotated[str, StringConstraints(pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$")]
# Yuan, two decimals at most; the largest pension paid in China is far below this bound.
Amount = Annotated[Decimal, Field(ge=Decimal("-1000000"), le=Decimal("1000000"),
                                  max_digits=12, decimal_places=2)]
MAX_PAYMENTS = 60  # the contract promises at most 24 months; some slack, not unbounded
MAX_SCHEMES = 16


@dataclass(frozen=True, repr=False)
class Credential:
    """How a citizen identified, as POST /sessions wants it: the method and only the fields the
    edge uses (data minimisation: the rest of what a card holds never leaves the terminal)."""

    method: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"method": self.method, self.method: dict(self.fields)}

    def __repr__(self) -> str:  # the fields are personal data
        return f"Credential(method={self.method}, fields={sorted(self.fields)})"


class _Answer(BaseModel):
    """Answers hold citizen data: `repr()` and `str()` name the model and no values.

    pydantic's `str()` does not go through `__repr__`, so both are overridden here; models that
    have something harmless to show (counts, flags) override `__repr__` only.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(…)"

    def __str__(self) -> str:
        return repr(self)


class Citizen(_Answer):
    # Already masked by the edge ("张*"); the full name never comes back.
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    gender: Short | None = None
    age: int | None = Field(None, ge=0, le=150)
    card_status: Short = "normal"

    def __repr__(self) -> str:  # keep even the masked name out of stray log lines
        return f"Citizen(card_status={self.card_status})"


class SessionOpened(_Answer):
    session_id: SessionId
    expires_at: AwareDatetime | None = None  # the contract sends UTC with Z
    citizen: Citizen
    as_of: AwareDatetime | None = None  # the contract sends UTC with Z
    stale: bool = False

    def __repr__(self) -> str:
        return f"SessionOpened(stale={self.stale})"


class Participation(_Answer):
    scheme: Short  # employee-pension, resident-pension, medical, unemployment, work-injury
    scheme_name: Label = ""
    status: Short  # contributing, receiving, suspended, ended
    since: Period | None = None


class PensionPayment(_Answer):
    period: Period
    amount: Amount  # sent as a decimal string so that no float rounding creeps in
    paid_on: dt.date | None = None
    status: Short
    bank: Label | None = None
    account_masked: Short | None = None


class Benefits(_Answer):
    as_of: AwareDatetime | None = None  # the contract sends UTC with Z
    stale: bool = False
    participation: tuple[Participation, ...] = Field((), max_length=MAX_SCHEMES)
    pension_payments: tuple[PensionPayment, ...] = Field((), max_length=MAX_PAYMENTS)

    def __repr__(self) -> str:
        return (
            f"Benefits(stale={self.stale}, participation={len(self.participation)},"
            f" payments={len(self.pension_payments)})"
        )


# The contribution history and the pension account: a working life of years, bounded.
MAX_YEARS = 100
Year = Annotated[int, Field(ge=1950, le=2199)]
Months = Annotated[int, Field(ge=0, le=12)]
# A lifetime's account or a year's contributions: above the monthly `Amount`, still bounded.
Money = Annotated[Decimal, Field(ge=Decimal("0"), le=Decimal("100000000"), max_digits=14,
                                 decimal_places=2)]


class ContributionYear(_Answer):
    year: Year
    scheme: Short
    months: Months
    arrears_months: Months = 0
    base: Money
    personal: Money
    employer: Money


class Contributions(_Answer):
    as_of: AwareDatetime | None = None
    stale: bool = False
    items: tuple[ContributionYear, ...] = Field((), max_length=MAX_YEARS * 4)

    def __repr__(self) -> str:
        return f"Contributions(stale={self.stale}, years={len(self.items)})"


class AccountYear(_Answer):
    year: Year
    credited: Money
    interest: Money
    paid_out: Money
    balance: Money


class PensionAccount(_Answer):
    as_of: AwareDatetime | None = None
    stale: bool = False
    scheme: Short | None = None
    balance: Money
    items: tuple[AccountYear, ...] = Field((), max_length=MAX_YEARS)

    def __repr__(self) -> str:
        return f"PensionAccount(stale={self.stale}, years={len(self.items)})"


class EdgeHealth(_Answer):
    status: Short
    version: Short = ""
    central: Short = "unknown"

    def __repr__(self) -> str:  # no citizen data here
        return f"EdgeHealth(status={self.status}, version={self.version}, central={self.central})"


class DeviceTokenIssued(_Answer):
    """POST /device/token: a fresh credential for this terminal. The token is a secret: it is
    in neither repr() nor str(); kiosk.edge.credentials checks it against what it says."""

    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    expires_at: AwareDatetime

    def __repr__(self) -> str:
        return f"DeviceTokenIssued(device_id={self.device_id}, expires_at={self.expires_at})"


# -- citizen services (issue 6: docs/contracts/edge-api.md, subsidies to card loss) ---------
# Lists take each item alone: one item the kiosk cannot read (an unknown status added by a newer
# edge) is left out and counted, never the whole list with it.

Code = Annotated[str, StringConstraints(min_length=1, max_length=32,
                                        pattern=r"^[a-z0-9][a-z0-9-]*$")]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=32,
                                             pattern=r"^[a-z][a-z0-9_]*$")]
Plain = Annotated[str, StringConstraints(max_length=200)]  # a sentence for the citizen
# The claim period a subsidy counts duplicates in: a year, a month, or once in a life.
ClaimPeriod = Annotated[str, StringConstraints(
    pattern=r"^(once|(19|20)\d\d|(19|20)\d\d-(0[1-9]|1[0-2]))$")]
Subsidy = Annotated[Decimal, Field(ge=Decimal("0"), le=Decimal("1000000"), max_digits=12,
                                   decimal_places=2)]
# R + China date + 10 Crockford base32 characters (no I, L, O, U).
ReceiptNo = Annotated[str, StringConstraints(pattern=r"^R\d{8}[0-9A-HJKMNP-TV-Z]{10}$")]
ApplicationNo = Annotated[str, StringConstraints(pattern=r"^SQ\d{16}$")]
MaskedText = Annotated[str, StringConstraints(max_length=32)]
MAX_SUBSIDIES = 8
MAX_DIGITS = 32  # the longest `digits` form field
MAX_FORM_FIELDS = 4
MAX_FINDINGS = 16
MAX_APPLICATIONS = 50
MAX_HISTORY = 16
MAX_QUEUED = 50
RECEIPT_QR_PREFIX = "hrss:receipt:"


class FieldKind(StrEnum):
    PHONE = "phone"  # 11 digits, starting with 1
    DIGITS = "digits"  # 1..max_length digits


class ReceiptState(StrEnum):
    SENT = "sent"
    QUEUED = "queued"  # committed at the edge, sent when the platform is back
    REFUSED = "refused"


class SubmissionKind(StrEnum):
    SUBSIDY_APPLICATION = "subsidy-application"
    CARD_LOSS_REPORT = "card-loss-report"
    CARD_LOSS_REVERSAL = "card-loss-reversal"


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    TOWNSHIP_REVIEW = "township-review"
    DEPARTMENT_REVIEW = "department-review"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    BANK_RETURNED = "bank-returned"
    BANK_FAILED = "bank-failed"


class CardStatusValue(StrEnum):
    NORMAL = "normal"
    REPORTED_LOST = "reported-lost"
    REPLACED = "replaced"
    CANCELLED = "cancelled"
    BLACKLISTED = "blacklisted"
    UNKNOWN = "unknown"  # none of this person's cards on record


def _each(model: type[BaseModel], limit: int) -> Callable[[object], tuple[Any, ...]]:
    """A before-validator for a list: items that do not validate are dropped one by one."""

    def keep_valid(value: object) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError("not a list")
        if len(value) > limit:
            raise ValueError(f"more than {limit} items")
        kept = []
        for item in value:
            try:
                kept.append(model.model_validate(item))
            except ValidationError:
                log.warning("edge answer: one %s left out (invalid)", model.__name__)
        return tuple(kept)

    return keep_valid


class FormField(_Answer):
    name: FieldName
    kind: FieldKind
    max_length: int | None = Field(None, ge=1, le=MAX_DIGITS)  # digits only; None: the most

    @property
    def length(self) -> tuple[int, int]:
        """(fewest, most) characters the field takes."""
        if self.kind is FieldKind.PHONE:
            return (11, 11)
        return (1, self.max_length or MAX_DIGITS)

    def accepts(self, value: str) -> bool:
        low, high = self.length
        if not (low <= len(value) <= high and value.isascii() and value.isdigit()):
            return False
        return self.kind is not FieldKind.PHONE or value.startswith("1")

    def __repr__(self) -> str:
        return f"FormField({self.name}, {self.kind})"


class SubsidyItem(_Answer):
    code: Code
    name: Label
    amount: Subsidy | None = None  # None: computed later
    period: ClaimPeriod
    eligible: bool
    reason_code: ReasonCode | None = None
    reason: Plain | None = None
    form_fields: tuple[FormField, ...] = Field((), max_length=MAX_FORM_FIELDS)

    def __repr__(self) -> str:
        return f"SubsidyItem({self.code}, eligible={self.eligible})"


class Subsidies(_Answer):
    as_of: AwareDatetime | None = None
    stale: bool = False
    items: Annotated[tuple[SubsidyItem, ...],
                     BeforeValidator(_each(SubsidyItem, MAX_SUBSIDIES))] = ()

    def __repr__(self) -> str:
        return f"Subsidies(stale={self.stale}, items={len(self.items)})"


ReasonCode = Annotated[str, StringConstraints(max_length=64)]  # shown only via the catalogue


class Finding(_Answer):
    code: ReasonCode
    message: Plain = ""


class Precheck(_Answer):
    ok: bool
    findings: tuple[Finding, ...] = Field((), max_length=MAX_FINDINGS)
    checked: bool = True  # False: central could not be asked; checked again when sent

    def __repr__(self) -> str:
        return f"Precheck(ok={self.ok}, checked={self.checked}, findings={len(self.findings)})"


class Receipt(_Answer):
    """A submission the edge has committed: its number, its QR text and where it stands."""

    receipt_no: ReceiptNo
    qr: Annotated[str, StringConstraints(max_length=64)]
    kind: Code
    state: ReceiptState
    submitted_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    application_no: ApplicationNo | None = None
    refusal_code: ReasonCode | None = None
    refusal_message: Plain | None = None
    findings: tuple[Finding, ...] = Field((), max_length=MAX_FINDINGS)

    @model_validator(mode="after")
    def _consistent(self) -> Receipt:
        if self.qr != RECEIPT_QR_PREFIX + self.receipt_no:
            raise ValueError("the QR text is not this receipt's")
        if self.state is ReceiptState.SENT and self.sent_at is None:
            raise ValueError("sent without a time")
        return self

    def __repr__(self) -> str:
        return f"Receipt({self.receipt_no}, {self.kind}, {self.state})"


class HistoryEntry(_Answer):
    status: ApplicationStatus
    at: AwareDatetime
    reason: Plain | None = None


class Application(_Answer):
    application_no: ApplicationNo
    subsidy: Code
    subsidy_name: Label = ""
    period: ClaimPeriod
    amount: Subsidy | None = None
    status: ApplicationStatus
    history: tuple[HistoryEntry, ...] = Field((), max_length=MAX_HISTORY)
    bank: Label | None = None
    account_masked: MaskedText | None = None
    receipt_no: ReceiptNo | None = None

    def __repr__(self) -> str:
        return f"Application({self.subsidy}, {self.status})"


class Applications(_Answer):
    as_of: AwareDatetime | None = None
    stale: bool = False
    items: Annotated[tuple[Application, ...],
                     BeforeValidator(_each(Application, MAX_APPLICATIONS))] = ()
    queued: Annotated[tuple[Receipt, ...], BeforeValidator(_each(Receipt, MAX_QUEUED))] = ()

    def __repr__(self) -> str:
        return (f"Applications(stale={self.stale}, items={len(self.items)},"
                f" queued={len(self.queued)})")


class CardStatus(_Answer):
    card_number_masked: MaskedText
    status: CardStatusValue
    as_of: AwareDatetime | None = None
    stale: bool = False

    def __repr__(self) -> str:
        return f"CardStatus({self.status}, stale={self.stale})"


@dataclass(frozen=True, repr=False)
class ApplicationDraft:
    """What POST /sessions/{id}/applications (and its pre-check) send: the form is personal."""

    subsidy: str
    period: str
    form: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"subsidy": self.subsidy, "period": self.period, "form": dict(self.form)}

    def __repr__(self) -> str:
        return f"ApplicationDraft({self.subsidy}, {self.period}, fields={sorted(self.form)})"
