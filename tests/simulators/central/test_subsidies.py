"""Subsidy catalogue with eligibility (1.1) and the pre-check (1.2): the risk validators,
through the HTTP API; the pre-check records nothing."""

import datetime as dt

import pytest

from common import citizen_id
from tests.simulators.central.builders import PERIODS, application, detail, pick

PRECHECK = "/central/v1/applications/precheck"


def precheck(central, auth, body) -> dict:
    r = central.post(PRECHECK, json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def codes(answer: dict) -> list[str]:
    return [f["code"] for f in answer["findings"]]


def test_catalogue_has_the_four_subsidies_with_forms(central, auth):
    person = pick(central)
    r = central.post("/central/v1/subsidies/query", json={"citizen_id": person["citizen_id"]},
                     headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["citizen_id"] == person["citizen_id"] and body["as_of"]
    items = {i["code"]: i for i in body["items"]}
    assert set(items) == {"skill-upgrade", "job-seeking", "startup-once", "unemployment"}
    assert items["skill-upgrade"]["name"] == "职业技能提升补贴"
    assert items["unemployment"]["amount"] is None
    assert items["startup-once"]["amount"] == "5000.00"
    for code, item in items.items():
        assert item["period"] == PERIODS[code]
        assert 1 <= len(item["form_fields"]) <= 4
        assert item["eligible"] == (item["reason_code"] is None) == (item["reason"] is None)


@pytest.mark.parametrize("subsidy", ["skill-upgrade", "job-seeking", "startup-once",
                                     "unemployment"])
def test_someone_eligible_passes_the_precheck(central, auth, subsidy):
    person = pick(central, eligible_for=subsidy, card_status="normal")
    items = central.post("/central/v1/subsidies/query", json={"citizen_id": person["citizen_id"]},
                         headers=auth).json()["items"]
    assert next(i for i in items if i["code"] == subsidy)["eligible"] is True
    assert precheck(central, auth, application(person, subsidy)) == {
        "as_of": "2026-11-22T02:00:00Z", "ok": True, "findings": []}


def test_the_precheck_records_nothing(central, auth):
    person = pick(central, eligible_for="skill-upgrade", card_status="normal")
    for _ in range(2):
        assert precheck(central, auth, application(person))["ok"] is True
    assert central.get("/sim/v1/ingest").json()["received"] == 0
    assert central.get("/sim/v1/submissions").json()["total"] == 0


def test_wrong_check_character(central, auth):
    person = pick(central, eligible_for="skill-upgrade")
    cid = person["citizen_id"]
    wrong = cid[:17] + ("0" if cid[17] != "0" else "1")
    answer = precheck(central, auth, application(person, citizen_id=wrong))
    assert answer["ok"] is False and codes(answer) == ["check-character"]


@pytest.mark.parametrize("field, value", [("name", "冒名顶替"), ("card_id_code", "F" * 32),
                                          ("card_number", "Z99999999")])
def test_identity_must_match_the_card_on_record(central, auth, field, value):
    person = pick(central, eligible_for="skill-upgrade", card_status="normal")
    body = application(person)
    body["identity"][field] = value
    answer = precheck(central, auth, body)
    assert codes(answer) == ["identity-mismatch"], "and nothing else about the person"
    assert "不一致" in answer["findings"][0]["message"]


def test_a_replaced_card_or_a_blocked_one_is_not_normal(central, auth):
    people = central.get("/sim/v1/citizens", params={
        "limit": 100, "eligible_for": "skill-upgrade", "card_status": "normal"}).json()["items"]
    person, older = next((p, d["cards"][0]) for p in people
                         if len((d := detail(central, p))["cards"]) > 1)
    body = application(person)
    body["identity"] = {"method": "card", "card_number": older["card_number"]}
    assert older["status"] == "replaced"
    assert codes(precheck(central, auth, body)) == ["card-not-normal"]
    for status in ("blacklisted", "reported-lost", "cancelled"):
        central.post("/sim/v1/cards/status",
                     json={"citizen_id": person["citizen_id"], "status": status})
        answer = precheck(central, auth, application(person))
        assert codes(answer) == ["card-not-normal"]
    central.post("/sim/v1/cards/status", json={"citizen_id": person["citizen_id"],
                                                "status": "normal"})
    assert precheck(central, auth, application(person))["ok"] is True


def test_household_condition(central, auth):
    """求职创业补贴 needs a low-income household: someone who meets all else but that."""
    for c in central.get("/sim/v1/citizens", params={"limit": 500}).json()["items"]:
        d = detail(central, c)
        if (18 <= d["age"] <= 35 and d["employment"] in {"unemployed", "none"}
                and not d["household"]["low_income"] and d["deceased_on"] is None):
            answer = precheck(central, auth, application(c, "job-seeking"))
            assert "household" in codes(answer)
            assert "not-eligible" not in codes(answer)
            return
    pytest.fail("no young job seeker outside a low-income household in 500 citizens")


def test_deceased(central, auth):
    person = pick(central, deceased=True)
    assert detail(central, person)["deceased_on"] is not None
    assert "deceased" in codes(precheck(central, auth, application(person)))


def test_not_eligible_by_age_employment_or_period(central, auth):
    retiree = pick(central, receiving_pension=True, deceased=False, card_status="normal")
    answer = precheck(central, auth, application(retiree))
    assert codes(answer) == ["not-eligible"] or "duplicate-claim" in codes(answer)
    person = pick(central, eligible_for="skill-upgrade", card_status="normal")
    answer = precheck(central, auth, application(person, period="2025"))
    assert codes(answer) == ["not-eligible"] and "2026" in answer["findings"][0]["message"]


def test_duplicate_claim_from_the_seeded_history(central, auth):
    """A citizen whose seeded history has 一次性创业补贴 (once in a life) cannot claim again."""
    for c in central.get("/sim/v1/citizens", params={"limit": 300}).json()["items"]:
        apps = central.post("/central/v1/applications/query",
                            json={"citizen_id": c["citizen_id"]}, headers=auth).json()["items"]
        if any(a["subsidy"] == "startup-once" and a["status"] != "rejected" for a in apps):
            assert "duplicate-claim" in codes(precheck(central, auth,
                                                       application(c, "startup-once")))
            return
    pytest.fail("no seeded startup-once application in 300 citizens")


def test_unknown_subsidy_unknown_person_and_bad_forms(central, auth):
    person = pick(central, eligible_for="skill-upgrade")
    body = {**application(person), "subsidy": "moon-landing"}
    assert codes(precheck(central, auth, body)) == ["unknown-subsidy"]
    stranger = citizen_id.make("110105", dt.date(1900, 1, 1), 1)
    r = central.post(PRECHECK, json=application(person, citizen_id=stranger), headers=auth)
    assert (r.status_code, r.json()["code"]) == (404, "person-not-found")
    for form in ({"phone": "23800000000", "certificate_number": "1"}, {"phone": "13800000000"},
                 {"phone": "13800000000", "certificate_number": "12a"}):
        r = central.post(PRECHECK, json=application(person, form=form), headers=auth)
        assert (r.status_code, r.json()["code"]) == (422, "invalid-form")
    r = central.post(PRECHECK, json={**application(person), "surprise": 1}, headers=auth)
    assert r.status_code == 422
    r = central.post(PRECHECK, json=application(person), headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
