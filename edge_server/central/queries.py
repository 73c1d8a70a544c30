"""The central platform's subsidy, pre-check, application and card-blacklist calls
(docs/contracts/central-api.md, sections 1.1, 1.2, 1.4, 1.5): answers as bounded data types,
their checks against the question and the time, and one function per call through
`CentralClient.call`.

Every refusal is a `BadAnswer` (an outage to the caller: cache or "could not check now"), never
shown. Blacklist items are checked one by one by the caller: one bad item is dropped alone.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from common import citizen_id as citizen_ids
from edge_server.central.client import CentralClient
from edge_server.central.errors import BadAnswer
from edge_server.central.validation import MAX_CLOCK_SKEW
from edge_server.central.wire import CitizenIdText, Text64

SUBSIDIES = "/central/v1/subsidies/query"
PRECHECK = "/central/v1/applications/precheck"
APPLICATIONS = "/central/v1/applications/query"
BLACKLIST = "/central/v1/card-blacklist/query"

MAX_SUBSIDIES = 8
MAX_FORM_FIELDS = 4
MAX_FINDINGS = 16
MAX_APPLICATIONS = 50
MAX_HISTORY = 16
MAX_BLACKLIST_PAGE = 5000
MAX_SUBSIDY_AMOUNT = Decimal("1000000.00")  # yuan; no subsidy comes near

APPLICATION_STATUSES = ("submitted", "township-review", "department-review", "approved",
                        "rejected", "disbursed", "bank-returned", "bank-failed")
ApplicationStatus = Literal["submitted", "township-review", "department-review", "approved",
                            "rejected", "disbursed", "bank-returned", "bank-failed"]
BlockStatus = Literal["normal", "reported-lost", "replaced", "cancelled", "blacklisted"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _plain(text: str) -> str:
    # Shown to citizens: no controls, no bidi overrides, no lone surrogates.
    if _CONTROL.search(text) or any(0xD800 <= ord(c) < 0xE000 for c in text):
        raise ValueError("control, surrogate or bidi character")
    return text


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ClaimPeriod = Annotated[
    str,
    StringConstraints(pattern=r"^(once|(19|20|21)[0-9]{2}|(19|20|21)[0-9]{2}-(0[1-9]|1[0-2]))$"),
]
Message = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_plain)]
Amount = Annotated[
    Decimal, Field(ge=0, le=MAX_SUBSIDY_AMOUNT, decimal_places=2, allow_inf_nan=False)
]
CardNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,32}$")]
Cursor = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- 1.1 subsidies ------------------------------------------------------------------------------
class FormField(_Answer):
    name: FieldName
    kind: Literal["phone", "digits"]
    max_length: int | None = Field(None, ge=1, le=32)


class CentralSubsidy(_Answer):
    code: Slug
    name: Text64
    amount: Amount | None = None
    period: ClaimPeriod
    eligible: bool
    reason_code: Slug | None = None
    reason: Message | None = None
    form_fields: list[FormField] = Field(max_length=MAX_FORM_FIELDS)


class SubsidiesAnswer(_Answer):
    as_of: AwareDatetime
    citizen_id: CitizenIdText = Field(repr=False)
    items: list[CentralSubsidy] = Field(max_length=MAX_SUBSIDIES)


# -- 1.2 pre-check ------------------------------------------------------------------------------
class Finding(_Answer):
    code: Slug
    message: Message


class PrecheckAnswer(_Answer):
    as_of: AwareDatetime
    ok: bool
    findings: list[Finding] = Field(max_length=MAX_FINDINGS)


# -- 1.4 applications ---------------------------------------------------------------------------
class HistoryEntry(_Answer):
    status: ApplicationStatus
    at: AwareDatetime
    reason: Message | None = None


class CentralApplication(_Answer):
    application_no: Annotated[str, StringConstraints(pattern=r"^SQ[0-9]{16}$")]
    subsidy: Slug
    subsidy_name: Text64
    period: ClaimPeriod
    amount: Amount | None = None
    status: ApplicationStatus
    history: list[HistoryEntry] = Field(max_length=MAX_HISTORY)
    bank: Text64 | None = None
    account_masked: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z*]{4,40}$")] | None = (
        None
    )


class ApplicationsAnswer(_Answer):
    as_of: AwareDatetime
    citizen_id: CitizenIdText = Field(repr=False)
    items: list[CentralApplication] = Field(max_length=MAX_APPLICATIONS)


# -- 1.5 card blacklist -------------------------------------------------------------------------
class BlacklistItem(_Answer):
    card_number: CardNumber = Field(repr=False)
    status: BlockStatus
    changed_at: AwareDatetime


class BlacklistPage(_Answer):
    """Items stay raw here: each is validated alone (`blacklist_items`), so that one bad item
    is dropped without its page."""

    as_of: AwareDatetime
    items: list[dict[str, Any]] = Field(max_length=MAX_BLACKLIST_PAGE)
    next: Cursor
    more: bool


# -- checks -------------------------------------------------------------------------------------
def _check_as_of(as_of: dt.datetime, now: dt.datetime) -> None:
    if abs(as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from the edge's clock")


def _same_citizen(answered: str, asked: str) -> None:
    if citizen_ids.normalize(answered) != citizen_ids.normalize(asked):
        raise BadAnswer("citizen_id: not the citizen asked for")


def check_subsidies(answer: SubsidiesAnswer, asked: str, now: dt.datetime) -> SubsidiesAnswer:
    _check_as_of(answer.as_of, now)
    _same_citizen(answer.citizen_id, asked)
    codes = [item.code for item in answer.items]
    if len(set(codes)) != len(codes):
        raise BadAnswer("items.code: repeated")
    for item in answer.items:
        names = [f.name for f in item.form_fields]
        if len(set(names)) != len(names):
            raise BadAnswer("items.form_fields.name: repeated")
        if item.eligible and item.reason_code is not None:
            raise BadAnswer("items.reason_code: set on an eligible item")
    return answer


def check_precheck(answer: PrecheckAnswer, now: dt.datetime) -> PrecheckAnswer:
    _check_as_of(answer.as_of, now)
    if answer.ok and answer.findings:
        raise BadAnswer("ok: true with findings")
    if not answer.ok and not answer.findings:
        raise BadAnswer("ok: false without findings")
    return answer


def check_applications(
    answer: ApplicationsAnswer, asked: str, now: dt.datetime
) -> ApplicationsAnswer:
    _check_as_of(answer.as_of, now)
    _same_citizen(answer.citizen_id, asked)
    numbers = [item.application_no for item in answer.items]
    if len(set(numbers)) != len(numbers):
        raise BadAnswer("items.application_no: repeated")
    latest = now + MAX_CLOCK_SKEW
    for item in answer.items:
        if any(entry.at > latest for entry in item.history):
            raise BadAnswer("items.history.at: in the future")
        times = [entry.at for entry in item.history]
        if times != sorted(times):
            raise BadAnswer("items.history: not in order")
    return answer


def check_blacklist(answer: BlacklistPage, now: dt.datetime) -> BlacklistPage:
    _check_as_of(answer.as_of, now)
    return answer


def blacklist_items(page: BlacklistPage, now: dt.datetime) -> tuple[list[BlacklistItem], int]:
    """The page's valid items and how many were dropped (malformed, or changed in the future)."""
    items: list[BlacklistItem] = []
    dropped = 0
    latest = now + MAX_CLOCK_SKEW
    for raw in page.items:
        try:
            item = BlacklistItem.model_validate(raw)
        except ValidationError:
            dropped += 1
            continue
        if item.changed_at > latest:
            dropped += 1
            continue
        items.append(item)
    return items, dropped


# -- calls --------------------------------------------------------------------------------------
def query_subsidies(client: CentralClient, citizen_id: str, now: dt.datetime) -> SubsidiesAnswer:
    return client.call(
        SUBSIDIES, {"citizen_id": citizen_id}, SubsidiesAnswer,
        lambda a: check_subsidies(a, citizen_id, now),
    )


def precheck(client: CentralClient, payload: dict[str, Any], now: dt.datetime) -> PrecheckAnswer:
    """`payload` is an application payload (1.2); central records nothing."""
    return client.call(PRECHECK, payload, PrecheckAnswer, lambda a: check_precheck(a, now))


def query_applications(
    client: CentralClient, citizen_id: str, now: dt.datetime
) -> ApplicationsAnswer:
    return client.call(
        APPLICATIONS, {"citizen_id": citizen_id}, ApplicationsAnswer,
        lambda a: check_applications(a, citizen_id, now),
    )


def query_blacklist(
    client: CentralClient, since: str | None, limit: int, now: dt.datetime
) -> BlacklistPage:
    return client.call(
        BLACKLIST, {"since": since, "limit": limit}, BlacklistPage,
        lambda a: check_blacklist(a, now),
    )


# -- 1.6 / 1.7 pension qualification certification (issue 7) -------------------------------------
CERTIFICATION = "/central/v1/certification/query"
DUE_ROSTER = "/central/v1/certification/due"
TEMPLATE_SIZE = 128
MAX_DUE_PAGE = 200
CertificationStatus = Literal["due", "done", "not-due", "not-pensioner", "deceased"]
TemplateValue = Annotated[float, Field(ge=-4.0, le=4.0, allow_inf_nan=False)]
# A face template is biometric data: never in a repr (logs, tracebacks).
Template = Annotated[tuple[TemplateValue, ...],
                     Field(min_length=TEMPLATE_SIZE, max_length=TEMPLATE_SIZE)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{3})?$")]
DueCursor = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]


class _CertificationStatus(_Answer):
    status: CertificationStatus
    reason_code: Slug | None = None
    due_date: dt.date | None = None
    opens_on: dt.date | None = None
    cycle_months: int = Field(ge=1, le=120)
    last_certified_at: AwareDatetime | None = None
    explanation: Message


class CertificationAnswer(_CertificationStatus):
    as_of: AwareDatetime
    citizen_id: CitizenIdText = Field(repr=False)
    template: Template | None = Field(None, repr=False)


class DueEntry(_CertificationStatus):
    citizen_id: CitizenIdText = Field(repr=False)
    name: Text64 = Field(repr=False)
    village: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]
    template: Template | None = Field(None, repr=False)


class DueRoster(_Answer):
    as_of: AwareDatetime
    village: VillageCode
    items: list[DueEntry] = Field(max_length=MAX_DUE_PAGE)
    next: DueCursor | None = None


def _check_status(answer: _CertificationStatus) -> None:
    if (answer.status == "due") != (answer.reason_code is None):
        raise BadAnswer("reason_code: set on a due status, or missing on another")


def check_certification(answer: CertificationAnswer, asked: str,
                        now: dt.datetime) -> CertificationAnswer:
    _check_as_of(answer.as_of, now)
    _same_citizen(answer.citizen_id, asked)
    _check_status(answer)
    return answer


def check_due_roster(answer: DueRoster, village: str, limit: int, now: dt.datetime) -> DueRoster:
    _check_as_of(answer.as_of, now)
    if answer.village != village:
        raise BadAnswer("village: not the village asked for")
    if len(answer.items) > limit:
        raise BadAnswer("items: more than asked for")
    ids = [citizen_ids.normalize(item.citizen_id) for item in answer.items]
    if len(set(ids)) != len(ids):
        raise BadAnswer("items.citizen_id: repeated")
    for item in answer.items:
        if item.status != "due" or not item.village.startswith(village):
            raise BadAnswer("items: not due, or of another village")
        _check_status(item)
    return answer


def query_certification(
    client: CentralClient, citizen_id: str, now: dt.datetime
) -> CertificationAnswer:
    """The citizen's certification status and enrolled template (1.6)."""
    return client.call(
        CERTIFICATION, {"citizen_id": citizen_id}, CertificationAnswer,
        lambda a: check_certification(a, citizen_id, now),
    )


def query_due_roster(
    client: CentralClient, village: str, limit: int, now: dt.datetime, after: str | None = None
) -> DueRoster:
    """One page (<= 200) of the pensioners due in the villages starting with `village`, with
    their templates (1.7); the next page starts at `after=answer.next`."""
    if not 1 <= limit <= MAX_DUE_PAGE:
        raise ValueError(f"a roster page holds 1..{MAX_DUE_PAGE} entries")
    body: dict[str, Any] = {"village": village, "limit": limit}
    if after is not None:
        body["after"] = after
    return client.call(DUE_ROSTER, body, DueRoster,
                       lambda a: check_due_roster(a, village, limit, now))
