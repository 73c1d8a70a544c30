import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from common import citizen_id
from simulators.central.population import Population

TODAY = dt.date(2026, 11, 22)
REFERENCE = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=42, size=5000)


@pytest.fixture(scope="module")
def everyone(population):
    return [population.citizen(i) for i in range(population.size)]


def test_same_seed_same_people_other_seed_other_people():
    a, b, c = Population(7, 300), Population(7, 300), Population(8, 300)
    for i in range(300):
        assert dataclasses.asdict(a.citizen(i)) == dataclasses.asdict(b.citizen(i))
    assert [a.citizen(i).citizen_id for i in range(300)] != [
        c.citizen(i).citizen_id for i in range(300)
    ]


def test_a_citizen_does_not_depend_on_the_population_size():
    small, large = Population(42, 100), Population(42, 5000)
    for i in range(100):
        assert dataclasses.asdict(small.citizen(i)) == dataclasses.asdict(large.citizen(i))


def test_every_id_is_valid_and_matches_the_person(everyone):
    for person in everyone:
        parsed = citizen_id.parse(person.citizen_id)
        assert parsed.birth_date == person.birth_date
        assert parsed.gender == person.gender
        assert parsed.region == person.region


def test_ids_and_card_numbers_are_unique(everyone):
    assert len({p.citizen_id for p in everyone}) == len(everyone)
    numbers = [c.card_number for p in everyone for c in p.cards]
    assert len(set(numbers)) == len(numbers)


def test_find_returns_the_person_and_rejects_near_misses(population, everyone):
    for person in everyone[::97]:
        assert population.find(person.citizen_id) is population.citizen(person.index)
        assert population.find(" " + person.citizen_id.lower() + " ").index == person.index
        wrong_check = person.citizen_id[:17] + ("0" if person.citizen_id[17] != "0" else "1")
        assert population.find(wrong_check) is None
    assert population.find(citizen_id.make("110105", dt.date(1900, 1, 1), 1)) is None
    assert population.find("") is None
    assert population.find("not an id") is None


def test_index_bounds(population):
    with pytest.raises(IndexError):
        population.citizen(population.size)
    with pytest.raises(IndexError):
        population.citizen(-1)
    with pytest.raises(ValueError):
        Population(size=0)


def test_cards(everyone):
    statuses = set()
    for person in everyone:
        *older, current = person.cards
        assert all(card.status == "replaced" for card in older)
        assert current.status in {"normal", "reported-lost", "cancelled", "blacklisted"}
        statuses.add(current.status)
        for card in person.cards:
            assert len(card.card_number) == 9
            assert len(card.card_id_code) == 32
            assert card.card_id_code.startswith(person.region)
            assert card.issued_on <= REFERENCE, "no card is issued in the future"
            assert card.issued_on.year >= person.birth_date.year + 16
        issued = [c.issued_on for c in person.cards]
        assert issued == sorted(issued)
    assert statuses == {"normal", "reported-lost", "cancelled", "blacklisted"}


def test_participation_starts_in_the_past(everyone):
    schemes = {"employee-pension", "resident-pension", "medical", "unemployment", "work-injury"}
    for person in everyone:
        for item in person.participation:
            assert item.scheme in schemes
            assert item.status in {"contributing", "receiving", "suspended", "ended"}
            # A pension granted this month is paid from the next one; nothing else is future.
            granted = item.status == "receiving" and item.scheme != "medical"
            latest = "2026-12" if granted else "2026-11"
            assert item.since <= latest, "nobody participates from the future"


def test_pensioners_receive_and_others_do_not(everyone):
    pensioners = [p for p in everyone if p.pension is not None]
    assert 0.3 * len(everyone) < len(pensioners) < 0.9 * len(everyone)
    for person in everyone:
        receiving = [x for x in person.participation if x.status == "receiving"
                     and x.scheme.endswith("pension")]
        assert bool(receiving) == (person.pension is not None)


def test_payments_rules(population, everyone):
    pensioners = [p for p in everyone if p.pension is not None][:300]
    returned = 0
    for person in pensioners:
        payments = population.pension_payments(person, TODAY)
        periods = [p.period for p in payments]
        assert periods == sorted(periods, reverse=True), "newest first"
        assert len(payments) <= 24
        assert all(p.period >= person.pension.start for p in payments)
        assert all(p.period <= "2026-11" for p in payments), "nothing from the future"
        for p in payments:
            assert p.amount == p.amount.quantize(Decimal("0.01")) and p.amount > 0
            assert p.paid_on.strftime("%Y-%m") == p.period
            assert p.status == ("pending" if p.paid_on > TODAY else p.status)
            assert p.status in {"paid", "pending", "returned"}
            assert p.account == person.pension.account
            returned += p.status == "returned"
        # The same amount all year; raised (never lowered) each January.
        by_year: dict[str, set[Decimal]] = {}
        for p in payments:
            by_year.setdefault(p.period[:4], set()).add(p.amount)
        assert all(len(amounts) == 1 for amounts in by_year.values())
        yearly = [next(iter(by_year[y])) for y in sorted(by_year)]
        assert yearly == sorted(yearly)
    assert returned < 0.05 * sum(len(population.pension_payments(p, TODAY)) for p in pensioners)


def test_current_month_is_pending_until_pay_day(population, everyone):
    person = next(p for p in everyone if p.pension is not None and p.pension.pay_day == 20
                  and p.pension.start < "2026-01")
    before = population.pension_payments(person, dt.date(2026, 11, 19))
    after = population.pension_payments(person, dt.date(2026, 11, 20))
    assert (before[0].period, before[0].status) == ("2026-11", "pending")
    assert after[0].period == "2026-11" and after[0].status in {"paid", "returned"}


def test_payments_window(population, everyone):
    person = next(p for p in everyone if p.pension is not None and p.pension.start < "2020-01")
    window = population.pension_payments(person, TODAY, "2025-01", "2025-06")
    assert [p.period for p in window] == [f"2025-{m:02d}" for m in range(6, 0, -1)]
    assert population.pension_payments(next(p for p in everyone if p.pension is None), TODAY) == []


def test_repr_hides_personal_data(everyone):
    person = everyone[0]
    assert person.citizen_id not in repr(person) and person.name not in repr(person)


# -- contributions ---------------------------------------------------------------------------
def _with(pop, test, limit=2000):
    return next(pop.citizen(i) for i in range(limit) if test(pop.citizen(i)))


def _scheme(citizen, name):
    return next((p for p in citizen.participation if p.scheme == name), None)


def test_employee_contributions_are_monthly_at_8_and_16_percent():
    pop = Population(42, 5000)
    today = dt.date(2026, 11, 22)
    worker = _with(pop, lambda c: (p := _scheme(c, "employee-pension")) is not None
                   and p.status == "contributing" and p.since < "2020-01")
    items = pop.contributions(worker, today)
    assert [c.period for c in items][:2] == ["2026-11", "2026-10"]  # newest first
    assert len(items) == 24  # the default window
    for c in items:
        assert c.personal == (c.base * Decimal("0.08")).quantize(Decimal("0.01"))
        assert c.employer == (c.base * Decimal("0.16")).quantize(Decimal("0.01"))
        assert c.status in {"paid", "arrears"}
    assert items == pop.contributions(Population(42, 5000).citizen(worker.index), today)


def test_resident_contributions_are_yearly_grades_with_a_subsidy():
    pop = Population(42, 5000)
    today = dt.date(2026, 11, 22)
    resident = _with(pop, lambda c: (p := _scheme(c, "resident-pension")) is not None
                     and p.status == "contributing" and p.since < "2020-01")
    items = pop.contributions(resident, today, from_period="2020-01")
    assert [c.period for c in items] == [f"{y}-01" for y in range(2026, 2019, -1)]
    assert len({(c.base, c.employer) for c in items}) == 1  # one chosen grade
    assert items[0].base == items[0].personal and items[0].employer > 0


def test_no_contributions_after_the_pension_starts():
    pop = Population(42, 5000)
    today = dt.date(2026, 11, 22)
    retiree = _with(pop, lambda c: c.pension is not None and c.pension.scheme ==
                    "employee-pension" and c.pension.start > "2015-01")
    history = pop.contributions(retiree, today, from_period="1990-01")
    assert history  # they paid in before retiring
    assert max(c.period for c in history) < retiree.pension.start
    assert all(c.period < retiree.pension.start for c in pop.contributions(retiree, today))
