"""The session citizen's subsidies (cached like the benefits) and the pre-check (records
nothing; "could not check now" when central is down), through the app against the simulator;
and the checks of central's answers (edge_server/central/queries.py) as data."""

import datetime as dt
import json

import pytest

from edge_server.central import BadAnswer, queries
from edge_server.central.validation import decode
from tests.edge_server.support import PROBLEM, headers, new_key

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
CID = "11010519491231002X"


def subsidies(h, sid, device="kiosk-01"):
    return h.edge.get(f"/api/v1/sessions/{sid}/subsidies", headers=headers(device))


def precheck(h, sid, body, device="kiosk-01"):
    return h.edge.post(f"/api/v1/sessions/{sid}/applications/precheck", json=body,
                       headers=headers(device))


def test_subsidies_with_eligibility_and_form_fields(h):
    citizen = h.citizen(card_status="normal")
    sid = h.open(citizen).json()["session_id"]
    r = subsidies(h, sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stale"] is False and body["as_of"] == "2026-11-22T02:00:00Z"
    codes = {item["code"] for item in body["items"]}
    assert codes >= {"skill-upgrade", "job-seeking", "startup-once", "unemployment"}
    for item in body["items"]:
        assert item["eligible"] == (item["reason_code"] is None)
        assert item["amount"] is None or len(item["amount"].split(".")[1]) == 2
        for field in item["form_fields"]:
            assert field["kind"] in ("phone", "digits")
    assert citizen["citizen_id"] not in r.text


def test_subsidies_are_cached_then_stale_when_central_is_down(h):
    sid = h.open(h.citizen()).json()["session_id"]
    first = subsidies(h, sid).json()
    calls = len(h.link.calls)
    assert subsidies(h, sid).json() == first
    assert len(h.link.calls) == calls, "within the TTL the cache answers"
    h.clock.advance(400)
    h.link.down = True
    stale = subsidies(h, sid).json()
    assert stale["stale"] is True and stale["items"] == first["items"]


def test_precheck_records_nothing_and_says_what_is_wrong(h):
    citizen = h.citizen(card_status="normal")
    sid = h.open(citizen).json()["session_id"]
    item = next(i for i in subsidies(h, sid).json()["items"])
    body = {"subsidy": item["code"], "period": item["period"],
            "form": {f["name"]: "13800000000" if f["kind"] == "phone" else "12"
                     for f in item["form_fields"]}}
    r = precheck(h, sid, body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["checked"] is True
    assert answer["ok"] == item["eligible"] or answer["findings"]
    for finding in answer["findings"]:
        assert finding["code"] and finding["message"]
    unknown = precheck(h, sid, {**body, "subsidy": "no-such-thing"}).json()
    assert unknown["ok"] is False and "unknown-subsidy" in {f["code"] for f in unknown["findings"]}
    assert h.count("outbox_item") == 0
    ingest = h.central.get("/sim/v1/ingest").json()
    assert ingest["received"] == 0, "a pre-check is no submission"


def test_precheck_while_central_is_down_is_unchecked_not_an_error(h):
    sid = h.open(h.citizen()).json()["session_id"]
    h.link.down = True
    r = precheck(h, sid, {"subsidy": "skill-upgrade", "period": "2026", "form": {}})
    assert r.status_code == 200
    assert r.json() == {"ok": False, "findings": [], "checked": False}


def test_precheck_needs_this_devices_live_session(h):
    sid = h.open(h.citizen()).json()["session_id"]
    body = {"subsidy": "skill-upgrade", "period": "2026", "form": {}}
    for r in (precheck(h, sid, body, device="kiosk-02"), precheck(h, "ses_nope", body),
              subsidies(h, sid, device="kiosk-02")):
        assert (r.status_code, r.json()["code"]) == (404, "session-not-found")
        assert r.headers["content-type"] == PROBLEM
    r = h.edge.post(f"/api/v1/sessions/{sid}/applications/precheck", content=b"{",
                    headers={**headers(key=new_key()), "Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (422, "validation-error")


# -- central's answers as data ------------------------------------------------------------------
def subsidy(**overrides) -> dict:
    item = {"code": "skill-upgrade", "name": "职业技能提升补贴", "amount": "1500.00",
            "period": "2026", "eligible": True, "reason_code": None, "reason": None,
            "form_fields": [{"name": "phone", "kind": "phone"}]}
    return {**item, **overrides}


def subsidies_answer(*items, citizen_id=CID, as_of="2026-11-22T02:00:00Z") -> bytes:
    return json.dumps({"as_of": as_of, "citizen_id": citizen_id, "items": list(items)}).encode()


def check(raw: bytes):
    return queries.check_subsidies(decode(queries.SubsidiesAnswer, raw), CID, NOW)


def test_a_good_subsidies_answer_passes():
    answer = check(subsidies_answer(subsidy(), subsidy(code="job-seeking", amount=None)))
    assert [i.code for i in answer.items] == ["skill-upgrade", "job-seeking"]


@pytest.mark.parametrize("raw", [
    subsidies_answer(subsidy(), citizen_id="110105194912310037"),
    subsidies_answer(subsidy(), subsidy()),
    subsidies_answer(*[subsidy(code=f"s{n}") for n in range(9)]),
    subsidies_answer(subsidy(amount="-1.00")),
    subsidies_answer(subsidy(amount="1e9")),
    subsidies_answer(subsidy(period="2026-13")),
    subsidies_answer(subsidy(code="../etc")),
    subsidies_answer(subsidy(reason="\u202e被拒")),
    subsidies_answer(subsidy(eligible=True, reason_code="not-eligible")),
    subsidies_answer(subsidy(form_fields=[{"name": "phone", "kind": "phone"}] * 2)),
    subsidies_answer(subsidy(form_fields=[{"name": "x", "kind": "text"}])),
    subsidies_answer(subsidy(form_fields=[{"name": "x", "kind": "digits", "max_length": 33}])),
    subsidies_answer(subsidy(), as_of="2020-01-01T00:00:00Z"),
])
def test_bad_subsidies_answers_are_refused(raw):
    with pytest.raises(BadAnswer):
        check(raw)
