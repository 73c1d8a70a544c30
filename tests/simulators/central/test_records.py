"""The contribution history by year and the pension personal account: deterministic per
citizen, consistent with the monthly contributions, and served by the contract's calls."""

import datetime as dt
from decimal import Decimal

from simulators.central import records
from simulators.central.population import Population

TODAY = dt.date(2026, 11, 22)
YEARS = "/central/v1/contributions/yearly"
ACCOUNT = "/central/v1/pension-account/query"


def pick(central, **filters) -> dict:
    page = central.get("/sim/v1/citizens", params={"limit": 1, **filters}).json()
    assert page["items"], f"no citizen with {filters}"
    return page["items"][0]


def test_the_same_citizen_always_gets_the_same_history_and_account():
    a, b = Population(42, 300), Population(42, 300)
    for i in (0, 1, 7, 123):
        assert records.contribution_years(a, a.citizen(i), TODAY) == records.contribution_years(
            b, b.citizen(i), TODAY)
        assert records.pension_account(a, a.citizen(i), TODAY) == records.pension_account(
            b, b.citizen(i), TODAY)
    other = Population(43, 300)
    assert any(records.contribution_years(a, a.citizen(i), TODAY)
               != records.contribution_years(other, other.citizen(i), TODAY) for i in range(5))


def test_years_sum_the_monthly_contributions():
    population = Population(42, 300)
    for i in range(40):
        citizen = population.citizen(i)
        monthly = population.contributions(citizen, TODAY, records.EARLIEST_PERIOD)
        years = records.contribution_years(population, citizen, TODAY)
        assert [(y.year, y.scheme) for y in years] == sorted(
            {(int(c.period[:4]), c.scheme) for c in monthly}, reverse=True)
        for y in years:
            same = [c for c in monthly if int(c.period[:4]) == y.year and c.scheme == y.scheme]
            paid = [c for c in same if c.status == "paid"]
            assert y.personal == sum((c.personal for c in paid), Decimal(0))
            assert y.employer == sum((c.employer for c in paid), Decimal(0))
            assert y.months + y.arrears_months <= 12
            if y.scheme == "employee-pension":
                assert (y.months, y.arrears_months) == (len(paid), len(same) - len(paid))


def test_the_account_adds_up_year_by_year():
    population = Population(42, 300)
    seen_payout = seen_contributor = False
    for i in range(60):
        citizen = population.citizen(i)
        account = records.pension_account(population, citizen, TODAY)
        if not account.years:
            assert account.balance == 0
            continue
        assert account.balance == account.years[0].balance and account.years[0].year == 2026
        assert account.years[0].interest == 0, "interest is credited at the year's end"
        previous = Decimal("0.00")
        for entry in reversed(account.years):
            assert entry.year >= records.ACCOUNT_FROM_YEAR
            assert entry.balance == previous + entry.credited + entry.interest - entry.paid_out
            assert entry.balance >= 0
            previous = entry.balance
        seen_payout |= any(e.paid_out > 0 for e in account.years)
        seen_contributor |= citizen.pension is None and account.years[0].credited > 0
    assert seen_payout and seen_contributor


def test_the_calls_answer_the_citizen_asked_for(central, auth):
    person = pick(central, receiving_pension=True, card_status="normal")
    body = {"citizen_id": person["citizen_id"]}
    years = central.post(YEARS, json=body, headers=auth)
    assert years.status_code == 200, years.text
    answer = years.json()
    assert answer["citizen_id"] == person["citizen_id"] and answer["as_of"].endswith("Z")
    keys = [(i["year"], i["scheme"]) for i in answer["items"]]
    assert keys == sorted(keys, reverse=True)
    assert all(len(i["base"].split(".")[1]) == 2 for i in answer["items"])
    assert central.post(YEARS, json=body, headers=auth).json() == answer  # deterministic

    acc = central.post(ACCOUNT, json=body, headers=auth)
    assert acc.status_code == 200, acc.text
    account = acc.json()
    assert account["citizen_id"] == person["citizen_id"]
    assert account["scheme"] in ("employee-pension", "resident-pension")
    if account["items"]:
        assert account["balance"] == account["items"][0]["balance"]


def test_unknown_people_missing_keys_and_outages(central, auth):
    for path in (YEARS, ACCOUNT):
        r = central.post(path, json={"citizen_id": "11010519491231002X"}, headers=auth)
        assert (r.status_code, r.json()["code"]) == (404, "person-not-found")
        assert central.post(path, json={"citizen_id": "x"}).status_code == 401
        r = central.post(path, json={"citizen_id": "x", "extra": 1}, headers=auth)
        assert r.status_code == 422
    person = pick(central)
    assert central.put("/sim/v1/faults", json={"outage": True}).status_code == 200
    r = central.post(YEARS, json={"citizen_id": person["citizen_id"]}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (503, "maintenance")
