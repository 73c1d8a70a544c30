"""Opening, reading and ending sessions (edge-api.md, Endpoints)."""

import datetime as dt

import pytest

from common import citizen_id
from common.masking import mask_name
from tests.edge_server.support import PROBLEM, card_body, headers, new_key


def age_on(birth: str, today: dt.date) -> int:
    b = dt.date.fromisoformat(birth)
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def test_open_get_benefits_end(h):
    citizen = h.citizen(receiving_pension=True, card_status="normal")
    r = h.open(citizen)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["session_id"].startswith("ses_")
    assert body["citizen"] == {
        "display_name": mask_name(citizen["name"]), "gender": citizen["gender"],
        "age": age_on(citizen["birth_date"], dt.date(2026, 11, 22)), "card_status": "normal"}
    assert body["as_of"] == "2026-11-22T02:00:00Z"
    assert body["stale"] is False
    assert body["expires_at"] == "2026-11-22T02:15:00Z"
    assert citizen["citizen_id"] not in r.text and citizen["name"] not in r.text

    assert h.get(body["session_id"]).json() == body

    benefits = h.benefits(body["session_id"])
    assert benefits.status_code == 200, benefits.text
    assert benefits.json()["stale"] is False
    assert benefits.json()["participation"]

    ended = h.end(body["session_id"])
    assert ended.status_code == 204 and ended.content == b""
    assert h.get(body["session_id"]).json()["code"] == "session-not-found"
    assert h.benefits(body["session_id"]).status_code == 404
    assert h.end(body["session_id"]).status_code == 204, "ending an ended session is fine"


def test_benefits_are_masked_newest_first_and_at_most_24_months(h):
    citizen = next(c for c in h.citizens(receiving_pension=True)
                   if h.detail(c["index"])["pension"]["start"] < "2020-01")
    sid = h.open(citizen).json()["session_id"]
    body = h.benefits(sid).json()
    payments = body["pension_payments"]
    assert len(payments) == 24
    periods = [p["period"] for p in payments]
    assert periods == sorted(periods, reverse=True)
    assert periods[0] == "2026-11" and periods[-1] == "2024-12"
    account = h.detail(citizen["index"])["pension"]["account"]
    for p in payments:
        assert p["account_masked"] == account[:4] + "****" + account[-4:]
        assert account not in str(body)
        assert isinstance(p["amount"], str) and len(p["amount"].split(".")[1]) == 2
    assert {p["scheme"] for p in body["participation"]} <= {
        "employee-pension", "resident-pension", "medical", "unemployment", "work-injury"}


def test_someone_without_pension_gets_an_empty_payment_list(h):
    citizen = h.citizen(receiving_pension=False, card_status="normal")
    sid = h.open(citizen).json()["session_id"]
    assert h.benefits(sid).json()["pension_payments"] == []


@pytest.mark.parametrize("status", ["reported-lost", "cancelled"])
def test_invalid_current_card_is_403(h, status):
    citizen = h.citizen(card_status=status)
    r = h.open(citizen)
    assert r.status_code == 403
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "card-not-valid"
    assert r.json()["card_status"] == status


def test_replaced_or_unknown_card_is_403(h):
    citizen = next(c for c in h.citizens(card_status="normal")
                   if len(h.detail(c["index"])["cards"]) > 1)
    old = h.detail(citizen["index"])["cards"][0]["card_number"]
    r = h.open(citizen, card_number=old)
    assert (r.status_code, r.json()["card_status"]) == (403, "replaced")
    r = h.open(citizen, card_number="Z99999999")
    assert (r.status_code, r.json()["card_status"]) == (403, "unknown")


def test_unknown_citizen_is_404(h):
    stranger = citizen_id.make("110105", dt.date(1950, 6, 1), 3)
    citizen = {**h.citizen(), "citizen_id": stranger}
    r = h.open(citizen)
    assert (r.status_code, r.json()["code"]) == (404, "citizen-not-found")
    assert stranger not in r.text


@pytest.mark.parametrize("bad", [
    "11010519491231002Y",  # not a digit or X
    "1101051949123100",  # too short
    "110105194913310020",  # month 13
])
def test_malformed_citizen_id_is_422_without_echo(h, bad):
    r = h.open({**h.citizen(), "citizen_id": bad})
    assert (r.status_code, r.json()["code"]) == (422, "invalid-citizen-id")
    assert bad not in r.text and bad[:10] not in r.text
    assert "/central/v1/persons/query" not in h.link.calls, "refused before asking central"


def test_wrong_check_character_is_422(h):
    good = h.citizen()["citizen_id"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = h.open({**h.citizen(), "citizen_id": bad})
    assert (r.status_code, r.json()["code"]) == (422, "invalid-citizen-id")
    assert "check" in r.json()["detail"]
    assert bad not in r.text and good[:17] not in r.text


@pytest.mark.parametrize("body", [
    {},
    {"method": "card"},
    {"method": "card", "card": {"card_number": "A00000001"}},
    {"method": "card", "card": {"citizen_id": 11010519491231002, "card_number": "A1"}},
    {"method": "card", "card": {"citizen_id": ["x"], "card_number": "A1"}},
    {"method": "telepathy", "card": {"citizen_id": "11010519491231002X", "card_number": "A1"}},
    {"method": "card", "card": {"citizen_id": "1" * 40, "card_number": "A1"}},
    [],
    "11010519491231002X",
])
def test_schema_violations_are_422_without_values(h, body):
    r = h.edge.post("/api/v1/sessions", json=body, headers=headers(key=new_key()))
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["code"] == "validation-error"
    assert problem["errors"] and all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
    for secret in ("11010519491231002", "1" * 40, "telepathy", "A00000001"):
        assert secret not in r.text


def test_broken_json_is_422(h):
    r = h.edge.post("/api/v1/sessions", content=b'{"method": "card", "card": {',
                    headers={**headers(key=new_key()), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "validation-error"


def test_huge_body_is_413_problem(h):
    body = card_body(h.citizen())
    body["card"]["padding"] = "x" * 200_000
    r = h.edge.post("/api/v1/sessions", json=body, headers=headers(key=new_key()))
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "payload-too-large"
    assert "xxxx" not in r.text


def test_huge_chunked_body_is_413_problem(h):
    def chunks():
        for _ in range(100):
            yield b"x" * 10_000

    r = h.edge.post("/api/v1/sessions", content=chunks(),
                    headers={**headers(key=new_key()), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload-too-large"


def test_another_device_cannot_see_or_end_a_session(h):
    sid = h.open(h.citizen(), device="kiosk-01").json()["session_id"]
    for r in (h.get(sid, device="kiosk-02"), h.benefits(sid, device="kiosk-02"),
              h.end(sid, device="kiosk-02")):
        assert r.status_code == 404 and r.json()["code"] == "session-not-found"
    assert h.get(sid, device="kiosk-01").status_code == 200, "the owner still can"


def test_unknown_session_ids_are_404_and_absurd_ones_are_refused_as_data(h):
    assert h.get("ses_nope").json()["code"] == "session-not-found"
    assert h.end("ses_nope").status_code == 404
    for absurd in ("x" * 65, "ses_%E4%BD%A0", "ses_%00", "ses.x"):
        for r in (h.get(absurd), h.benefits(absurd), h.end(absurd)):
            assert (r.status_code, r.json()["code"]) == (422, "validation-error"), absurd


def test_session_expires(h):
    sid = h.open(h.citizen()).json()["session_id"]
    h.clock.advance(899)
    assert h.get(sid).status_code == 200
    h.clock.advance(1)
    assert h.get(sid).json()["code"] == "session-not-found"
    assert h.benefits(sid).status_code == 404
    assert h.end(sid).status_code == 204, "ending an expired session succeeds"


def test_stale_answer_is_kept_as_the_session_view(h):
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(400)  # past the cache TTL
    h.outage()
    r = h.open(citizen)
    assert r.status_code == 201 and r.json()["stale"] is True
    assert h.get(r.json()["session_id"]).json() == r.json()


def test_identify_asks_central_for_the_card_every_time_within_the_ttl(h):
    citizen = h.citizen(card_status="normal")
    assert h.open(citizen).status_code == 201
    asked = h.link.calls.count("/central/v1/persons/query")
    r = h.central.post("/sim/v1/cards/status",
                       json={"citizen_id": citizen["citizen_id"], "status": "cancelled"})
    assert r.status_code == 200, r.text
    r = h.open(citizen)  # well within the cache TTL
    assert (r.status_code, r.json()["card_status"]) == (403, "cancelled")
    assert h.link.calls.count("/central/v1/persons/query") == asked + 1
