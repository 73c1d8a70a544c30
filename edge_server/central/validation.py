"""An answer is data from a peer: decoded with bounds, then checked against the question and
the time before anything stores or shows it. Every refusal is a `BadAnswer`, counted.

Reasons name fields and rules, never values: a value may be a citizen's data.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from common import citizen_id as citizen_ids
from common.clock import CHINA_TZ
from edge_server.central.errors import BadAnswer
from edge_server.central.wire import PaymentsAnswer, PersonAnswer, TokenAnswer

M = TypeVar("M", bound=BaseModel)

# Edge and platform clocks may disagree a little; by more than this, one of them is wrong.
MAX_CLOCK_SKEW = dt.timedelta(days=1)
MAX_TOKEN_LIFETIME = dt.timedelta(days=7)
# A payment's pay day may lie a little ahead (the current month is `pending` until paid).
PAY_DAY_AHEAD = dt.timedelta(days=62)


def decode(model: type[M], body: bytes) -> M:
    """Parse JSON bytes straight into `model`. The parser refuses invalid UTF-8, unpaired
    surrogate escapes and nesting beyond its recursion limit, all as a ValidationError."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        # List indices left out: the reason is a rule to count, not a position.
        where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "body"
        raise BadAnswer(f"{where}: {first['type']}") from None


def _period(moment: dt.datetime, months_ahead: int = 0) -> str:
    china = moment.astimezone(CHINA_TZ)
    total = china.year * 12 + china.month - 1 + months_ahead
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _check_as_of(as_of: dt.datetime | None, now: dt.datetime) -> None:
    if as_of is not None and abs(as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from the edge's clock")


def check_person(answer: PersonAnswer, asked: str, now: dt.datetime) -> PersonAnswer:
    """The person asked for, and plausible today."""
    _check_as_of(answer.as_of, now)
    person = answer.person
    if citizen_ids.normalize(person.citizen_id) != citizen_ids.normalize(asked):
        raise BadAnswer("person.citizen_id: not the citizen asked for")
    today = now.astimezone(CHINA_TZ).date()
    # Not compared with the date inside the ID: registers hold legacy records where the two
    # differ, and the ID already names the person.
    if person.birth_date > today:
        raise BadAnswer("person.birth_date: in the future")
    this_month = _period(now, 1)
    for card in person.cards:
        if card.issued_on and card.expires_on and card.expires_on < card.issued_on:
            raise BadAnswer("person.cards: expires before it was issued")
        if card.issued_on and card.issued_on > today + MAX_CLOCK_SKEW:
            raise BadAnswer("person.cards.issued_on: in the future")
    for item in person.participation:
        if item.since > this_month:
            raise BadAnswer("person.participation.since: in the future")
    return answer


def check_payments(answer: PaymentsAnswer, now: dt.datetime) -> PaymentsAnswer:
    """No period after next month, no pay day far ahead, each period once."""
    _check_as_of(answer.as_of, now)
    latest_period = _period(now, 1)
    latest_day = now.astimezone(CHINA_TZ).date() + PAY_DAY_AHEAD
    periods = [item.period for item in answer.items]
    if len(set(periods)) != len(periods):
        raise BadAnswer("items.period: repeated")
    for item in answer.items:
        if item.period > latest_period:
            raise BadAnswer("items.period: in the future")
        if item.paid_on is not None and item.paid_on > latest_day:
            raise BadAnswer("items.paid_on: too far in the future")
    return answer


def check_token(answer: TokenAnswer, now: dt.datetime) -> TokenAnswer:
    _check_as_of(answer.as_of, now)
    if answer.expires_at - now > MAX_TOKEN_LIFETIME:
        raise BadAnswer("expires_at: beyond any token's lifetime")
    return answer


class BadAnswerCounter:
    """How many answers were refused, by reason (the rule, not the value); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
