"""The simulator against docs/contracts/central-api.md, through its HTTP API."""

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from common import citizen_id
from simulators.central.api import create_app
from simulators.central.config import CentralSimConfig
from tests.simulators.central.conftest import API_KEY, FakeClock

PROBLEM = "application/problem+json"


def pick(central, **filters) -> dict:
    page = central.get("/sim/v1/citizens", params={"limit": 1, **filters}).json()
    assert page["items"], f"no citizen with {filters}"
    return page["items"][0]


def test_health_needs_no_key_and_carries_as_of(central):
    r = central.get("/central/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "as_of": "2026-11-22T02:00:00Z"}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic test-central-key", "Bearer"])
def test_wrong_or_missing_key_is_401(central, header):
    person = pick(central)
    headers = {"Authorization": header} if header else {}
    r = central.post("/central/v1/persons/query", json={"citizen_id": person["citizen_id"]},
                     headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "unauthorized"


def test_person_query(central, auth):
    summary = pick(central, receiving_pension=True)
    r = central.post("/central/v1/persons/query", json={"citizen_id": summary["citizen_id"]},
                     headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["as_of"] == "2026-11-22T02:00:00Z"
    person = body["person"]
    assert person["citizen_id"] == summary["citizen_id"]
    assert person["name"] == summary["name"]
    assert person["birth_date"] == summary["birth_date"]
    assert person["cards"][-1] == summary["card"]
    assert {"card_number", "card_id_code", "generation", "status", "issued_on",
            "expires_on"} <= set(person["cards"][0])
    assert any(p["status"] == "receiving" for p in person["participation"])
    assert all(p["scheme_name"] for p in person["participation"])


def test_unknown_person_is_404_and_lowercase_x_is_found(central, auth):
    unknown = citizen_id.make("110105", dt.date(1900, 1, 1), 1)
    r = central.post("/central/v1/persons/query", json={"citizen_id": unknown}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (404, "person-not-found")
    assert unknown not in r.text


def test_malformed_query_is_422_without_echo(central, auth):
    r = central.post("/central/v1/persons/query", json={"citizen_id": 123456789012345678},
                     headers=auth)
    assert r.status_code == 422
    assert r.json()["code"] == "validation-error"
    assert "123456789012345678" not in r.text


def test_payments_default_window_newest_first(central, auth):
    person = pick(central, receiving_pension=True)
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": person["citizen_id"]}, headers=auth)
    assert r.status_code == 200
    items = r.json()["items"]
    assert 0 < len(items) <= 24
    periods = [i["period"] for i in items]
    assert periods == sorted(periods, reverse=True)
    assert periods[0] <= "2026-11" and periods[-1] >= "2024-12"
    for item in items:
        assert isinstance(item["amount"], str)
        assert Decimal(item["amount"]).as_tuple().exponent == -2
        assert item["status"] in {"paid", "pending", "returned"}
        assert item["account"].isdigit()


def test_payments_explicit_window_and_bad_periods(central, auth):
    person = pick(central, receiving_pension=True)
    cid = person["citizen_id"]
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": cid, "from_period": "2026-09", "to_period": "2026-10"},
                     headers=auth)
    assert [i["period"] for i in r.json()["items"]] in (["2026-10", "2026-09"], ["2026-10"], [])
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": cid, "from_period": "2026-13"}, headers=auth)
    assert r.status_code == 422
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": cid, "from_period": "2026-10", "to_period": "2026-01"},
                     headers=auth)
    assert (r.status_code, r.json()["code"]) == (422, "invalid-period")
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": cid, "to_period": "9999-12"}, headers=auth)
    assert r.status_code == 200 and r.json()["items"][0]["period"] <= "2026-11"


def test_someone_without_pension_has_no_payments(central, auth):
    person = pick(central, receiving_pension=False)
    r = central.post("/central/v1/pension-payments/query",
                     json={"citizen_id": person["citizen_id"]}, headers=auth)
    assert r.json()["items"] == []


def test_ecard_token_round_trip(central, auth):
    person = pick(central)
    issued = central.post("/sim/v1/ecard-tokens",
                          json={"citizen_id": person["citizen_id"], "ttl_s": 60})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert person["citizen_id"] not in token
    r = central.post("/central/v1/ecard-tokens/verify", json={"token": token}, headers=auth)
    assert r.status_code == 200
    assert r.json()["citizen_id"] == person["citizen_id"]
    assert r.json()["expires_at"] == "2026-11-22T02:01:00Z"


def test_ecard_token_expires(central, auth, clock):
    person = pick(central)
    token = central.post("/sim/v1/ecard-tokens",
                         json={"citizen_id": person["citizen_id"], "ttl_s": 30}).json()["token"]
    clock.advance(30)
    r = central.post("/central/v1/ecard-tokens/verify", json={"token": token}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (410, "token-expired")


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
    lambda t: t[:10],
    lambda _t: "not a token!",
    lambda _t: "ü" * 20,
])
def test_forged_or_malformed_token_is_invalid(central, auth, mangle):
    person = pick(central)
    token = central.post("/sim/v1/ecard-tokens",
                         json={"citizen_id": person["citizen_id"]}).json()["token"]
    r = central.post("/central/v1/ecard-tokens/verify", json={"token": mangle(token)},
                     headers=auth)
    assert (r.status_code, r.json()["code"]) == (422, "token-invalid")


def test_token_for_unknown_citizen_is_404(central):
    unknown = citizen_id.make("110105", dt.date(1900, 1, 1), 1)
    r = central.post("/sim/v1/ecard-tokens", json={"citizen_id": unknown})
    assert r.status_code == 404


def test_outage_answers_503_maintenance_except_health(central, auth):
    person = pick(central)
    assert central.put("/sim/v1/faults", json={"outage": True}).status_code == 200
    assert central.get("/sim/v1/faults").json() == {
        "outage": True, "latency_ms": 0, "error_rate": 0.0, "hostile": None,
        "trickle_interval_ms": 2000, "oversized_bytes": 300 * 1024 * 1024,
        "nesting_depth": 100_000, "refuse_rate": 0.0, "lose_response_rate": 0.0,
        "duplicate_response_rate": 0.0, "slow_body_ms": 0, "outage_windows": []}
    r = central.post("/central/v1/persons/query", json={"citizen_id": person["citizen_id"]},
                     headers=auth)
    assert r.status_code == 503
    assert r.json()["code"] == "maintenance"
    assert r.headers["retry-after"]
    assert central.get("/central/v1/health").status_code == 200
    central.put("/sim/v1/faults", json={})
    r = central.post("/central/v1/persons/query", json={"citizen_id": person["citizen_id"]},
                     headers=auth)
    assert r.status_code == 200


def test_error_rate_one_fails_every_call_and_zero_none(central, auth):
    person = pick(central)
    central.put("/sim/v1/faults", json={"error_rate": 1.0})
    for _ in range(3):
        r = central.post("/central/v1/persons/query",
                         json={"citizen_id": person["citizen_id"]}, headers=auth)
        assert r.status_code == 500 and r.json()["code"] == "simulated-error"
    central.put("/sim/v1/faults", json={"error_rate": 0.0})
    r = central.post("/central/v1/persons/query", json={"citizen_id": person["citizen_id"]},
                     headers=auth)
    assert r.status_code == 200


@pytest.mark.parametrize("faults", [
    {"error_rate": 1.5}, {"latency_ms": -1}, {"outage": "sometimes"}, {"surprise": True}])
def test_invalid_faults_are_refused(central, faults):
    assert central.put("/sim/v1/faults", json=faults).status_code == 422
    assert central.get("/sim/v1/faults").json()["outage"] is False


def test_citizen_list_pages_and_filters(central):
    first = central.get("/sim/v1/citizens", params={"limit": 5}).json()
    assert first["total"] == 5000
    assert [c["index"] for c in first["items"]] == [0, 1, 2, 3, 4]
    assert first["next_offset"] == 5
    lost = central.get("/sim/v1/citizens",
                       params={"card_status": "reported-lost", "limit": 3}).json()
    assert len(lost["items"]) == 3
    assert all(c["card"]["status"] == "reported-lost" for c in lost["items"])
    more = central.get("/sim/v1/citizens", params={
        "card_status": "reported-lost", "limit": 3, "offset": lost["next_offset"]}).json()
    assert min(c["index"] for c in more["items"]) > max(c["index"] for c in lost["items"])
    last = central.get("/sim/v1/citizens", params={"offset": 4998, "limit": 10}).json()
    assert len(last["items"]) == 2 and last["next_offset"] is None
    assert central.get("/sim/v1/citizens", params={"limit": 0}).status_code == 422
    assert central.get("/sim/v1/citizens", params={"card_status": "odd"}).status_code == 422


def test_one_citizen_with_all_cards(central):
    detail = central.get("/sim/v1/citizens/7").json()
    assert detail["index"] == 7
    assert detail["cards"][-1] == detail["card"]
    assert citizen_id.is_valid(detail["citizen_id"])
    assert central.get("/sim/v1/citizens/5000").status_code == 404
    assert central.get("/sim/v1/citizens/-1").status_code == 404


def test_business_date_follows_the_clock_when_not_fixed():
    """Without --today the business date is the date in Beijing by the simulator's clock."""
    clock = FakeClock(dt.datetime(2027, 2, 28, 16, 30, tzinfo=dt.UTC))  # 1 March in Beijing
    config = CentralSimConfig(seed=42, population=500, api_key=API_KEY)
    with TestClient(create_app(config, clock=clock), base_url="http://central") as central:
        person = pick(central, receiving_pension=True)
        items = central.post("/central/v1/pension-payments/query",
                             json={"citizen_id": person["citizen_id"]},
                             headers={"Authorization": f"Bearer {API_KEY}"}).json()["items"]
        assert items[0]["period"] == "2027-03"
        birth = dt.date.fromisoformat(person["birth_date"])
        today = dt.date(2027, 3, 1)
        assert person["age"] == today.year - birth.year - (
            (today.month, today.day) < (birth.month, birth.day))


def test_openapi_is_served(central):
    paths = central.get("/central/v1/openapi.json").json()["paths"]
    assert {"/central/v1/persons/query", "/central/v1/pension-payments/query",
            "/central/v1/ecard-tokens/verify", "/sim/v1/faults"} <= set(paths)


def test_contributions_of_a_contributor_newest_first_and_none_for_unknown(central, auth):
    person = pick(central, receiving_pension=False, card_status="normal")
    r = central.post("/central/v1/contributions/query",
                     json={"citizen_id": person["citizen_id"]}, headers=auth)
    assert r.status_code == 200
    items = r.json()["items"]
    assert items
    periods = [i["period"] for i in items]
    assert periods == sorted(periods, reverse=True)
    assert all(i["scheme"].endswith("-pension") and i["status"] in {"paid", "arrears"}
               for i in items)
    assert all(Decimal(i["base"]) > 0 for i in items)
    r = central.post("/central/v1/contributions/query",
                     json={"citizen_id": "11010519491231002X"}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (404, "person-not-found")
    r = central.post("/central/v1/contributions/query",
                     json={"citizen_id": person["citizen_id"], "from_period": "2026-10",
                           "to_period": "2026-01"}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (422, "invalid-period")
