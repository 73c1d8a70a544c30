"""The simulator's hostile answer modes (`Faults.hostile`), through its HTTP API."""

import json

import pytest

from simulators.central.faults import HOSTILE_MODES

PERSONS = "/central/v1/persons/query"
PAYMENTS = "/central/v1/pension-payments/query"


def pensioner(central) -> dict:
    return central.get("/sim/v1/citizens",
                       params={"limit": 1, "receiving_pension": True}).json()["items"][0]


def hostile(central, mode: str | None, **params) -> None:
    r = central.put("/sim/v1/faults", json={"hostile": mode, **params})
    assert r.status_code == 200, r.text


def ask(central, auth, path: str, citizen: dict):
    return central.post(path, json={"citizen_id": citizen["citizen_id"]}, headers=auth)


def test_an_unknown_mode_is_refused(central):
    r = central.put("/sim/v1/faults", json={"hostile": "polite"})
    assert r.status_code == 422


def test_other_citizen_answers_with_someone_else(central, auth):
    citizen = pensioner(central)
    hostile(central, "other-citizen")
    person = ask(central, auth, PERSONS, citizen).json()["person"]
    assert person["citizen_id"] != citizen["citizen_id"]
    assert person["name"]  # a whole, well-formed record: only its identity is wrong
    hostile(central, None)
    assert ask(central, auth, PERSONS, citizen).json()["person"]["citizen_id"] == (
        citizen["citizen_id"])


def test_out_of_range_amounts_and_dates(central, auth):
    citizen = pensioner(central)
    hostile(central, "out-of-range")
    items = ask(central, auth, PAYMENTS, citizen).json()["items"]
    assert items and all(item["amount"].startswith("-") for item in items)
    assert all(item["paid_on"] == "2999-01-01" for item in items)
    person = ask(central, auth, PERSONS, citizen).json()["person"]
    assert person["birth_date"] == "2999-01-01"


def test_bare_404_has_no_problem_code(central, auth):
    hostile(central, "bare-404")
    r = ask(central, auth, PERSONS, pensioner(central))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "Not Found"


def test_deep_nesting(central, auth):
    hostile(central, "deep-nesting", nesting_depth=5000)
    body = ask(central, auth, PERSONS, pensioner(central)).content
    assert body.count(b"[") >= 5000 and b"[" * 5000 + b"]" * 5000 in body
    with pytest.raises(RecursionError):
        json.loads(body)  # what the edge's old client did, and crashed with 500


def test_invalid_utf8(central, auth):
    hostile(central, "invalid-utf8")
    body = ask(central, auth, PERSONS, pensioner(central)).content
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert b"\xff\xfe" in body


def test_wrong_content_type(central, auth):
    hostile(central, "wrong-content-type")
    r = ask(central, auth, PERSONS, pensioner(central))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.json()["person"]  # the body itself is the contract's


def test_oversized_is_padded_to_the_size(central, auth):
    hostile(central, "oversized", oversized_bytes=300_000)
    r = ask(central, auth, PERSONS, pensioner(central))
    assert len(r.content) >= 300_000 and "content-length" not in r.headers
    assert r.json()["person"] and set(r.json()["padding"]) == {"x"}


def test_trickle_sends_the_answer_one_byte_at_a_time(central, auth):
    citizen = pensioner(central)
    normal = ask(central, auth, PERSONS, citizen).content
    hostile(central, "trickle", trickle_interval_ms=1)
    with central.stream("POST", PERSONS, json={"citizen_id": citizen["citizen_id"]},
                        headers=auth) as r:
        chunks = list(r.iter_raw())
    assert b"".join(chunks) == normal
    assert len(chunks) == len(normal), "one byte per chunk"


def test_health_ignores_every_mode(central):
    for mode in HOSTILE_MODES:
        hostile(central, mode)
        r = central.get("/central/v1/health")
        assert r.status_code == 200 and r.json()["status"] == "ok"


def test_test_data_controls_ignore_every_mode(central):
    hostile(central, "bare-404")
    assert central.get("/sim/v1/citizens", params={"limit": 1}).status_code == 200
