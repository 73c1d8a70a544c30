"""The population's issue-6 attributes: households, death, the service PIN, blacklisted cards,
eligibility inputs and the seeded history; deterministic and drawn apart from the rest."""

import collections
import dataclasses

import pytest

from simulators.central import profiles
from simulators.central.population import Population
from simulators.central.profiles import Profiles

SIZE = 5000


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=42, size=SIZE)


@pytest.fixture(scope="module")
def everyone(population):
    book = Profiles(population)
    return [book.get(i) for i in range(SIZE)]


def test_same_seed_same_profiles():
    a, b = Profiles(Population(7, 300)), Profiles(Population(7, 300))
    for i in range(300):
        assert dataclasses.asdict(a.get(i)) == dataclasses.asdict(b.get(i))
    other = Profiles(Population(8, 300))
    assert [other.get(i).household.household_id for i in range(300)] != [
        a.get(i).household.household_id for i in range(300)] or [
        other.get(i).employment for i in range(300)] != [a.get(i).employment for i in range(300)]


def test_households_group_neighbours_in_ones_to_fives(everyone):
    by_id = collections.defaultdict(set)
    for p in everyone:
        by_id[p.household.household_id].add(p.index)
        assert p.index in p.household.members
        assert 1 <= len(p.household.members) <= 5
    for members in by_id.values():
        assert max(members) - min(members) == len(members) - 1, "neighbouring indexes"
        views = {everyone[i].household for i in members}
        assert len(views) == 1, "every member sees the same household"
    sizes = collections.Counter(len(m) for m in by_id.values())
    assert set(sizes) == {1, 2, 3, 4, 5}
    assert 0.05 < sum(p.household.low_income for p in everyone) / SIZE < 0.3


def test_about_one_percent_deceased_after_adulthood(population, everyone):
    dead = [p for p in everyone if p.deceased_on is not None]
    assert 0.005 * SIZE < len(dead) < 0.02 * SIZE
    for p in dead:
        assert population.citizen(p.index).birth_date < p.deceased_on < profiles.REFERENCE_DAY
        assert all(a.submitted_at.date() < p.deceased_on for a in p.history)


def test_blacklisted_cards_are_a_few_per_thousand(population):
    statuses = collections.Counter(population.citizen(i).current_card.status for i in range(SIZE))
    assert 0.001 * SIZE < statuses["blacklisted"] < 0.006 * SIZE
    assert statuses["normal"] > 0.9 * SIZE


def test_the_pin_is_six_digits_and_only_its_salted_hash_is_held(population, everyone):
    pins = [profiles.service_pin(42, p.index) for p in everyone[:200]]
    assert all(len(pin) == 6 and pin.isdigit() for pin in pins)
    assert len(set(pins)) > 190
    person = everyone[3]
    assert profiles.pin_matches(person, 42, pins[3])
    wrong = f"{(int(pins[3]) + 1) % 10**6:06d}"
    assert not profiles.pin_matches(person, 42, wrong)
    assert pins[3] not in repr(dataclasses.asdict(person))
    assert len({p.pin_salt for p in everyone[:200]}) == 200, "a salt per citizen"


def test_eligibility_inputs_are_consistent(population, everyone):
    kinds = collections.Counter(p.employment for p in everyone)
    assert set(kinds) == {"employed", "unemployed", "self-employed", "retired", "none"}
    for p in everyone:
        citizen = population.citizen(p.index)
        assert (p.employment == "retired") == (citizen.pension is not None)
        if p.employment != "unemployed":
            assert not p.unemployment_registered
        if p.startup_registered_on is not None:
            assert p.employment == "self-employed"
        assert 0 <= p.unemployment_insurance_months <= 480


def test_seeded_history_numbers_and_periods(population, everyone):
    numbers = [a.application_no for p in everyone for a in p.history]
    assert len(numbers) == len(set(numbers))
    for p in everyone[:500]:
        assert 1 <= len(p.history) <= 3 or p.deceased_on is not None
        for a in p.history:
            assert a.application_no.startswith("SQ" + a.submitted_at.strftime("%Y%m%d"))
            assert int(a.application_no[-8:]) // 4 == p.index
            assert a.submitted_at.date() < profiles.REFERENCE_DAY
            assert a.period == profiles.period_of(
                {"startup-once": "once", "unemployment": "monthly"}.get(a.subsidy, "yearly"),
                a.submitted_at.date())
        assert len({(a.subsidy, a.period) for a in p.history}) == len(p.history)


def test_repr_hides_the_account(everyone):
    assert everyone[0].account not in repr(everyone[0])
