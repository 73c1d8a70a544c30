"""Bodies of the benefit services (issue 6): subsidies, pre-check, submissions, applications,
the card blacklist feed, and their /sim/v1 controls. Every field bounded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from simulators.central.schemas import CitizenIdText

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
ClaimPeriod = Annotated[str, StringConstraints(pattern=r"^(once|\d{4}|\d{4}-(0[1-9]|1[0-2]))$")]
Pin = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
CardNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,32}$")]
CardIdCode = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
FormKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
FormValue = Annotated[str, StringConstraints(max_length=64)]
SubmissionKey = Annotated[str, StringConstraints(pattern=r"^sub_[A-Za-z0-9_-]{8,64}$")]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Cursor = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]
CardStatusValue = Literal["normal", "reported-lost", "replaced", "cancelled", "blacklisted"]
ApplicationStatus = Literal["submitted", "township-review", "department-review", "approved",
                            "rejected", "disbursed", "bank-returned", "bank-failed"]

_STRICT = ConfigDict(extra="forbid")


# -- requests ----------------------------------------------------------------------------------
class CitizenQuery(BaseModel):
    model_config = _STRICT
    citizen_id: CitizenIdText


class IdentityIn(BaseModel):
    model_config = _STRICT
    method: Literal["card", "qr", "face"]
    card_number: CardNumber | None = None
    card_id_code: CardIdCode | None = None
    name: Name | None = None


class ApplicationPayload(BaseModel):
    """A subsidy application: the pre-check's body and a submission's payload."""

    model_config = _STRICT
    citizen_id: CitizenIdText
    subsidy: Slug
    period: ClaimPeriod
    identity: IdentityIn | None = None
    form: dict[FormKey, FormValue] = Field(default_factory=dict, max_length=8)


class LossReportPayload(BaseModel):
    model_config = _STRICT
    citizen_id: CitizenIdText
    pin: Pin


class LossReversalPayload(BaseModel):
    model_config = _STRICT
    citizen_id: CitizenIdText
    card_number: CardNumber
    card_id_code: CardIdCode
    pin: Pin


class SubmissionIn(BaseModel):
    """One item of a batch, validated alone: a bad one is refused without its batch."""

    model_config = _STRICT
    submission_key: SubmissionKey
    kind: Slug
    device_id: DeviceId
    submitted_at: AwareDatetime
    payload: dict[str, Any]


class SubmissionsBatch(BaseModel):
    model_config = _STRICT
    # Any: each item is validated as data on its own (SubmissionIn), in order.
    items: list[Any] = Field(min_length=1, max_length=100)


class BlacklistQuery(BaseModel):
    model_config = _STRICT
    since: Cursor | None = None
    limit: int = Field(1000, ge=1, le=5000)


# -- answers -----------------------------------------------------------------------------------
class FormFieldOut(BaseModel):
    name: str
    kind: Literal["phone", "digits"]
    max_length: int | None = None


class SubsidyOut(BaseModel):
    code: str
    name: str
    amount: str | None
    period: str
    eligible: bool
    reason_code: str | None
    reason: str | None
    form_fields: list[FormFieldOut]


class SubsidiesAnswer(BaseModel):
    as_of: str
    citizen_id: str
    items: list[SubsidyOut]


class FindingOut(BaseModel):
    code: str
    message: str


class PrecheckAnswer(BaseModel):
    as_of: str
    ok: bool
    findings: list[FindingOut]


class RefusalOut(BaseModel):
    code: str
    message: str
    findings: list[FindingOut] = []


class ResultOut(BaseModel):
    submission_key: str | None
    outcome: Literal["recorded", "duplicate", "refused", "conflict"]
    record: dict[str, Any] | None
    refusal: RefusalOut | None


class SubmissionsAnswer(BaseModel):
    as_of: str
    results: list[ResultOut]


class HistoryOut(BaseModel):
    status: ApplicationStatus
    at: str
    reason: str | None


class ApplicationOut(BaseModel):
    application_no: str
    subsidy: str
    subsidy_name: str
    period: str
    amount: str | None
    status: ApplicationStatus
    history: list[HistoryOut]
    bank: str | None
    account_masked: str | None


class ApplicationsAnswer(BaseModel):
    as_of: str
    citizen_id: str
    items: list[ApplicationOut]


class BlacklistItem(BaseModel):
    card_number: str
    status: Literal["reported-lost", "cancelled", "blacklisted", "normal"]
    changed_at: str


class BlacklistAnswer(BaseModel):
    as_of: str
    items: list[BlacklistItem]
    next: str
    more: bool


# -- /sim/v1 -----------------------------------------------------------------------------------
class Advance(BaseModel):
    model_config = _STRICT
    to: ApplicationStatus
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class CardStatusIn(BaseModel):
    model_config = _STRICT
    citizen_id: CitizenIdText
    status: Literal["normal", "reported-lost", "cancelled", "blacklisted"]


class Ingest(BaseModel):
    received: int
    recorded: int
    duplicates: int
    refused: int
    conflicts: int


class SubmissionRow(BaseModel):
    seq: int = Field(description="Order of arrival at the platform.")
    submission_key: str
    kind: str
    device_id: str
    citizen_index: int | None
    submitted_at: str
    received_at: str
    outcome: Literal["recorded", "refused"]
    record: dict[str, Any] | None
    refusal: RefusalOut | None


class SubmissionPage(BaseModel):
    total: int
    items: list[SubmissionRow]
