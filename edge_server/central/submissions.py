"""The outbox's one write call (docs/contracts/central-api.md, 1.3): `POST /central/v1/submissions`
with 1..100 items, one result per item.

The call as a whole is validated like any answer (a bad envelope is an outage: nothing is known,
the same items go again with the same keys). Each result is then validated ALONE: its identity is
the submission key we sent, its outcome one the contract knows, its record bounded and about what
we sent. A result that fails is dropped and counted (`bad`); only its item stays pending.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from edge_server.central.client import CentralClient
from edge_server.central.errors import BadAnswer
from edge_server.central.queries import (
    MAX_FINDINGS,
    ApplicationStatus,
    ClaimPeriod,
    Finding,
    Message,
    Slug,
)
from edge_server.central.validation import MAX_CLOCK_SKEW

log = logging.getLogger(__name__)

SUBMISSIONS = "/central/v1/submissions"
MAX_ITEMS = 100

SubmissionKey = Annotated[str, StringConstraints(pattern=r"^sub_[0-9a-f]{32}$")]
CardMask = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z*]{1,40}$")]
Outcome = Literal["recorded", "duplicate", "refused", "conflict"]
SENT_OUTCOMES = frozenset({"recorded", "duplicate"})


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ApplicationRecord(_Answer):
    application_no: Annotated[str, StringConstraints(pattern=r"^SQ[0-9]{16}$")]
    subsidy: Slug
    period: ClaimPeriod
    status: ApplicationStatus
    submitted_at: AwareDatetime


class LossReportRecord(_Answer):
    card_status: Literal["reported-lost"]
    card_number_masked: CardMask
    reported_at: AwareDatetime


class LossReversalRecord(_Answer):
    card_status: Literal["normal"]
    card_number_masked: CardMask
    reversed_at: AwareDatetime


class CertificationRecord(_Answer):
    certification_no: Annotated[str, StringConstraints(pattern=r"^RZ[0-9]{16}$")]
    status: Literal["done"]
    certified_at: AwareDatetime
    next_due_date: dt.date
    cycle_months: int = Field(ge=1, le=120)


# kind -> the record central answers for it. A new kind (issue 7: pension-certification) adds
# one line here and its payload in the caller.
RECORDS: dict[str, type[_Answer]] = {
    "subsidy-application": ApplicationRecord,
    "card-loss-report": LossReportRecord,
    "card-loss-reversal": LossReversalRecord,
    "pension-certification": CertificationRecord,
}
KINDS = tuple(RECORDS)
_RECORD_TIMES = ("submitted_at", "reported_at", "reversed_at", "certified_at")


class Refusal(_Answer):
    code: Slug
    message: Message
    findings: list[Finding] = Field(default_factory=list, max_length=MAX_FINDINGS)


class Result(_Answer):
    submission_key: SubmissionKey
    outcome: Outcome
    record: dict[str, Any] | None = None
    refusal: Refusal | None = None


class SubmissionsAnswer(_Answer):
    """Results stay raw here: each is validated alone (`check_result`)."""

    as_of: AwareDatetime
    results: list[dict[str, Any]] = Field(max_length=MAX_ITEMS)


@dataclass(frozen=True)
class Submission:
    submission_key: str
    kind: str
    device_id: str
    submitted_at: dt.datetime
    payload: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return {
            "submission_key": self.submission_key,
            "kind": self.kind,
            "device_id": self.device_id,
            "submitted_at": self.submitted_at.astimezone(dt.UTC).isoformat(),
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Delivered:
    """A valid result: `record` (sent) or `refusal` (dead), as plain JSON-able dicts."""

    submission_key: str
    outcome: str
    record: dict[str, Any] | None
    refusal: dict[str, Any] | None

    @property
    def sent(self) -> bool:
        return self.outcome in SENT_OUTCOMES


@dataclass(frozen=True)
class SubmitAnswer:
    delivered: dict[str, Delivered]  # by submission key; the items left out stay pending
    bad: int  # items without a valid result (malformed, unknown key, repeated, missing)


def check_result(raw: dict[str, Any], sent: dict[str, Submission], now: dt.datetime) -> Delivered:
    """One result against the item it names; BadAnswer (a rule, never a value) otherwise."""
    try:
        result = Result.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "result"
        raise BadAnswer(f"results.{where}: {first['type']}") from None
    item = sent.get(result.submission_key)
    if item is None:
        raise BadAnswer("results.submission_key: not one we sent")
    if result.outcome in SENT_OUTCOMES:
        if result.record is None or result.refusal is not None:
            raise BadAnswer("results.record: missing on a recorded outcome")
        record = _check_record(item, result.record, now)
        return Delivered(result.submission_key, result.outcome, record, None)
    if result.refusal is None or result.record is not None:
        raise BadAnswer("results.refusal: missing on a refused outcome")
    return Delivered(result.submission_key, result.outcome, None,
                     result.refusal.model_dump(mode="json"))


def _check_record(item: Submission, raw: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    model = RECORDS.get(item.kind)
    if model is None:
        raise BadAnswer("results.record: a kind we do not know")
    try:
        record = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "record"
        raise BadAnswer(f"results.record.{where}: {first['type']}") from None
    for name in _RECORD_TIMES:
        at = getattr(record, name, None)
        if at is not None and at > now + MAX_CLOCK_SKEW:
            raise BadAnswer(f"results.record.{name}: in the future")
    if isinstance(record, ApplicationRecord) and (
        record.subsidy != item.payload.get("subsidy") or record.period != item.payload.get(
            "period")
    ):
        raise BadAnswer("results.record: not the application we sent")
    if isinstance(record, CertificationRecord) and not _same_moment(
            record.certified_at, item.payload.get("certified_at")):
        raise BadAnswer("results.record: not the certification we sent")
    return record.model_dump(mode="json")


def _same_moment(answered: dt.datetime, sent: object) -> bool:
    # Central answers to the second; the terminal may have sent fractions.
    try:
        moment = dt.datetime.fromisoformat(sent) if isinstance(sent, str) else None
    except ValueError:
        return False
    return moment is not None and abs((answered - moment).total_seconds()) < 1


def _check_envelope(answer: SubmissionsAnswer, now: dt.datetime) -> SubmissionsAnswer:
    if abs(answer.as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from the edge's clock")
    return answer


def submit(client: CentralClient, items: Sequence[Submission], now: dt.datetime) -> SubmitAnswer:
    """Send `items` (1..100) in one call. Whole-call failures raise CentralUnavailable (nothing
    is known: send the same items again); each result is validated alone."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValueError(f"a submissions call carries 1..{MAX_ITEMS} items")
    sent = {item.submission_key: item for item in items}
    answer = client.call(
        SUBMISSIONS, {"items": [item.wire() for item in items]}, SubmissionsAnswer,
        lambda a: _check_envelope(a, now),
    )
    delivered: dict[str, Delivered] = {}
    repeated: set[str] = set()
    for raw in answer.results:
        try:
            result = check_result(raw, sent, now)
            if result.submission_key in delivered or result.submission_key in repeated:
                # Two answers for one item: neither can be trusted.
                delivered.pop(result.submission_key, None)
                repeated.add(result.submission_key)
                raise BadAnswer("results.submission_key: repeated")
        except BadAnswer as exc:
            _refused(client, exc.reason)
            continue
        delivered[result.submission_key] = result
    if len(answer.results) < len(sent):
        _refused(client, "results: fewer than the items sent")
    return SubmitAnswer(delivered, len(sent) - len(delivered))


def _refused(client: CentralClient, reason: str) -> None:
    client.bad_answers.count(reason)
    log.error("refused a result of the central platform on %s: %s", SUBMISSIONS, reason)
