"""Answers checked as data against the question and the time; decoding refuses what JSON
parsers choke on (deep nesting, invalid UTF-8, unpaired surrogates)."""

import datetime as dt
import json

import pytest

from edge_server.central import BadAnswer, PaymentsAnswer, PersonAnswer, TokenAnswer
from edge_server.central.validation import (
    BadAnswerCounter,
    check_payments,
    check_person,
    check_token,
    decode,
)
from tests.edge_server.central.answers import (
    CITIZEN,
    NOW,
    OTHER,
    payments_answer,
    person_answer,
)


def person(**fields) -> PersonAnswer:
    body = person_answer()
    as_of = fields.pop("as_of", None)
    if as_of:
        body["as_of"] = as_of
    body["person"].update(fields)
    return decode(PersonAnswer, json.dumps(body).encode())


@pytest.mark.parametrize("body", [
    b'{"as_of":"2026-11-22T02:00:00Z","person":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"as_of":"2026-11-22T02:00:00Z","x":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
    b'{"as_of":"2026-11-22T02:00:00Z","person":{"name":"\xff\xfe"}}',
    b'{"as_of":"2026-11-22T02:00:00Z","person":{"name":"\\ud800"}}',
    b"",
    b"null",
    b"[]",
])
def test_what_json_parsers_choke_on_is_a_bad_answer(body):
    with pytest.raises(BadAnswer):
        decode(PersonAnswer, body)


def test_the_person_asked_for_passes_and_case_of_x_does_not_matter():
    assert check_person(person(), CITIZEN, NOW).person.citizen_id == CITIZEN
    assert check_person(person(), CITIZEN.lower(), NOW)


def test_another_person_is_refused():
    other = person(citizen_id=OTHER, birth_date="1951-03-02")
    with pytest.raises(BadAnswer, match="not the citizen asked for"):
        check_person(other, CITIZEN, NOW)


@pytest.mark.parametrize("fields,rule", [
    ({"birth_date": "2026-11-23"}, "person.birth_date"),
    ({"as_of": "2026-11-24T02:00:00Z"}, "as_of"),
    ({"as_of": "2025-01-01T00:00:00Z"}, "as_of"),
    ({"participation": [{"scheme": "employee-pension", "scheme_name": "x",
                         "status": "receiving", "since": "2027-02"}]}, "participation.since"),
    ({"cards": [{"card_number": "A1", "status": "normal", "issued_on": "2020-01-01",
                 "expires_on": "2019-01-01"}]}, "expires before"),
    ({"cards": [{"card_number": "A1", "status": "normal", "issued_on": "2027-01-01"}]},
     "issued_on"),
])
def test_a_person_out_of_range_for_today_is_refused(fields, rule):
    with pytest.raises(BadAnswer, match=rule):
        check_person(person(**fields), CITIZEN, NOW)


def payments(*changes: dict) -> PaymentsAnswer:
    body = payments_answer()
    for item, change in zip(body["items"], changes, strict=False):
        item.update(change)
    return decode(PaymentsAnswer, json.dumps(body).encode())


def test_payments_in_range_pass():
    assert len(check_payments(payments(), NOW).items) == 2


@pytest.mark.parametrize("changes,rule", [
    (({"period": "2027-01"},), "in the future"),
    (({}, {"period": "2026-11"}), "repeated"),
    (({"paid_on": "2027-03-01"},), "paid_on"),
])
def test_payments_out_of_range_for_today_are_refused(changes, rule):
    with pytest.raises(BadAnswer, match=rule):
        check_payments(payments(*changes), NOW)


def test_next_months_period_is_allowed_for_clock_skew():
    assert check_payments(payments({"period": "2026-12"}), NOW)


def test_a_token_living_beyond_any_tokens_lifetime_is_refused():
    ok = TokenAnswer(citizen_id=CITIZEN, expires_at=NOW + dt.timedelta(minutes=1), as_of=NOW)
    assert check_token(ok, NOW) is ok
    forever = TokenAnswer(citizen_id=CITIZEN, expires_at=NOW + dt.timedelta(days=3650))
    with pytest.raises(BadAnswer, match="expires_at"):
        check_token(forever, NOW)


def test_the_counter_counts_by_rule():
    counter = BadAnswerCounter()
    for reason in ("a", "b", "a"):
        counter.count(reason)
    assert counter.snapshot() == {"a": 2, "b": 1} and counter.total == 3
