"""The session citizen's contribution history by year and pension personal account: through
the app against the simulator (cached sealed, stale from the cache while central is down, 503
with nothing cached), and the checks of central's answers (edge_server/central/records.py)."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from edge_server.central import BadAnswer, records
from edge_server.central.validation import decode
from tests.edge_server.support import PROBLEM, headers

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
CID = "11010519491231002X"
YEARS = "/central/v1/contributions/yearly"
ACCOUNT = "/central/v1/pension-account/query"


def contributions(h, sid, device="kiosk-01"):
    return h.edge.get(f"/api/v1/sessions/{sid}/contributions", headers=headers(device))


def account(h, sid, device="kiosk-01"):
    return h.edge.get(f"/api/v1/sessions/{sid}/pension-account", headers=headers(device))


def test_contributions_by_year_newest_first(h):
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]
    r = contributions(h, sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stale"] is False and body["as_of"] == "2026-11-22T02:00:00Z"
    items = body["items"]
    assert items, "a pensioner contributed before the pension started"
    keys = [(i["year"], i["scheme"]) for i in items]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    for item in items:
        assert 0 <= item["months"] + item["arrears_months"] <= 12
        assert item["scheme"] in ("employee-pension", "resident-pension")
        for money in ("base", "personal", "employer"):
            assert Decimal(item[money]) >= 0 and len(item[money].split(".")[1]) == 2
    assert citizen["citizen_id"] not in r.text
    # The same as central's, item for item (the simulator is deterministic per citizen).
    key = h.settings.central_api_key.get_secret_value()
    central = h.central.post(YEARS, json={"citizen_id": citizen["citizen_id"]},
                             headers={"Authorization": f"Bearer {key}"})
    assert [i["year"] for i in central.json()["items"]] == [i["year"] for i in items]


def test_the_pension_account_balance_is_its_newest_year(h):
    sid = h.open(h.citizen(receiving_pension=True)).json()["session_id"]
    r = account(h, sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stale"] is False and body["scheme"] in ("employee-pension", "resident-pension")
    years = [i["year"] for i in body["items"]]
    assert years == sorted(years, reverse=True)
    if years:
        assert body["balance"] == body["items"][0]["balance"] and years[0] == 2026
    else:
        assert body["balance"] == "0.00"


@pytest.mark.parametrize("read", [contributions, account], ids=["contributions", "account"])
def test_cached_sealed_then_stale_when_central_is_down_then_503(h, read):
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]
    first = read(h, sid).json()
    calls = len(h.link.calls)
    assert read(h, sid).json() == first
    assert len(h.link.calls) == calls, "within the TTL the cache answers"
    # Sealed at rest: no amount of the answer is in the database's bytes in the clear.
    items = first["items"]
    amount = items[0]["personal" if read is contributions else "balance"] if items else None
    if amount and amount != "0.00":
        assert amount.encode() not in h.database_bytes()

    h.clock.advance(3600)
    h.link.down = True
    # The session has expired by now: a new one opens from the cached person (stale).
    opened = h.open(citizen)
    assert opened.status_code == 201 and opened.json()["stale"] is True
    asked = len(h.link.calls)
    stale = read(h, opened.json()["session_id"])
    assert stale.status_code == 200
    assert stale.json()["stale"] is True and stale.json()["as_of"] == first["as_of"]
    assert stale.json()["items"] == first["items"]
    assert len(h.link.calls) > asked, "past the TTL central was asked first"


@pytest.mark.parametrize("read", [contributions, account], ids=["contributions", "account"])
def test_nothing_cached_and_central_down_is_503(h, read):
    sid = h.open(h.citizen()).json()["session_id"]
    h.outage()
    r = read(h, sid)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")
    assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"] == "30"


@pytest.mark.parametrize("read", [contributions, account], ids=["contributions", "account"])
def test_only_this_devices_live_session(h, read):
    sid = h.open(h.citizen()).json()["session_id"]
    for r in (read(h, sid, device="kiosk-02"), read(h, "ses_nope")):
        assert (r.status_code, r.json()["code"]) == (404, "session-not-found")
    h.end(sid)
    assert read(h, sid).status_code == 404


def test_a_view_is_audited_with_the_masked_id_only(h):
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]
    contributions(h, sid)
    account(h, sid)
    rows = h.sql("SELECT action, masked_id FROM audit_log WHERE action IN "
                 "('contributions.viewed', 'pension-account.viewed')")
    assert sorted(a for a, _ in rows) == ["contributions.viewed", "pension-account.viewed"]
    assert all(citizen["citizen_id"] not in m and m.endswith(citizen["citizen_id"][-4:])
               for _, m in rows)


# -- central's answers as data ------------------------------------------------------------------
def year(**overrides) -> dict:
    item = {"year": 2025, "scheme": "employee-pension", "months": 12, "arrears_months": 0,
            "base": "6210.00", "personal": "5961.60", "employer": "11923.20"}
    return {**item, **overrides}


def years_answer(*items, citizen_id=CID, as_of="2026-11-22T02:00:00Z") -> bytes:
    return json.dumps({"as_of": as_of, "citizen_id": citizen_id, "items": list(items)}).encode()


def entry(**overrides) -> dict:
    item = {"year": 2026, "credited": "4968.00", "interest": "0.00", "paid_out": "0.00",
            "balance": "50000.00"}
    return {**item, **overrides}


def account_answer(*items, balance="50000.00", scheme="employee-pension",
                   citizen_id=CID) -> bytes:
    return json.dumps({"as_of": "2026-11-22T02:00:00Z", "citizen_id": citizen_id,
                       "scheme": scheme, "balance": balance, "items": list(items)}).encode()


def check_years(raw: bytes):
    return records.check_contribution_years(decode(records.ContributionYearsAnswer, raw), CID,
                                            NOW)


def check_account(raw: bytes):
    return records.check_pension_account(decode(records.PensionAccountAnswer, raw), CID, NOW)


def test_good_answers_pass():
    assert [i.year for i in check_years(years_answer(year(), year(year=2024))).items] == [
        2025, 2024]
    assert check_account(account_answer(entry(), entry(year=2025, balance="45000.00"))).balance \
        == Decimal("50000.00")
    assert check_account(account_answer(balance="0.00", scheme=None)).items == []


@pytest.mark.parametrize("raw", [
    years_answer(year(), citizen_id="110105194912310037"),
    years_answer(year(), year()),
    years_answer(year(year=2028)),
    years_answer(year(months=10, arrears_months=4)),
    years_answer(year(months=13)),
    years_answer(year(base="-1.00")),
    years_answer(year(personal="1.001")),
    years_answer(year(scheme="Employee Pension")),
    years_answer(year(), as_of="2026-11-25T02:00:00Z"),
    years_answer(*[year(year=1950 + i % 100, scheme=f"s{i // 100}") for i in range(401)]),
], ids=["other-citizen", "repeated", "future-year", "over-12-months", "13-months",
        "negative", "three-decimals", "not-a-slug", "as-of-skew", "too-many"])
def test_bad_contribution_years_are_refused(raw):
    with pytest.raises(BadAnswer):
        check_years(raw)


@pytest.mark.parametrize("raw", [
    account_answer(entry(), balance="49999.99"),
    account_answer(balance="10.00"),
    account_answer(entry(), entry()),
    account_answer(entry(year=2028, balance="50000.00")),
    account_answer(entry(), scheme=None),
    account_answer(entry(), citizen_id="110105194912310037"),
    account_answer(entry(interest="NaN")),
    account_answer(*[entry(year=1950 + i) for i in range(101)]),
], ids=["balance-not-newest", "balance-without-entries", "repeated", "future-year",
        "entries-without-scheme", "other-citizen", "nan", "too-many"])
def test_bad_pension_accounts_are_refused(raw):
    with pytest.raises(BadAnswer):
        check_account(raw)
