"""What the benefit services need to know about a citizen beyond identity, cards and insurance:
household (户籍), death, the service PIN, employment and the seeded history of applications.

Deterministic from (seed, index) like the rest of the population, and drawn from streams of
their own (`population.extra_rng`, the household and history streams), so that adding them
changed no existing citizen. The first draw of the extra stream is the blacklist roll made in
`Population._make_citizen`; the order of the draws below is part of the population's identity.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from functools import lru_cache

from simulators.central import names
from simulators.central.population import Citizen, Population, extra_rng

HOUSEHOLD_BLOCK = 10  # neighbouring indexes grouped into households of 1-5 within a block
_HOUSEHOLD_SIZES = (1, 2, 2, 3, 3, 3, 4, 4, 5)
DECEASED_RATE = 0.01
# PBKDF2-SHA256 at a simulator's cost (about 40 us), so that intake keeps up with the
# outbox benchmark; a real platform uses far more.
PIN_ITERATIONS = 100
REFERENCE_DAY = dt.date(2026, 11, 22)  # the seeded history ends before it


@dataclass(frozen=True)
class Household:
    household_id: str
    members: tuple[int, ...]  # population indexes, the head first
    local: bool  # registered (本地户籍) in the province
    low_income: bool  # 城乡低保家庭

    @property
    def head(self) -> int:
        return self.members[0]


@dataclass(frozen=True)
class SeededApplication:
    """An application made before the simulator started; its states follow from its dates."""

    application_no: str
    subsidy: str
    period: str
    submitted_at: dt.datetime


@dataclass(frozen=True, repr=False)
class Profile:
    index: int
    household: Household
    deceased_on: dt.date | None
    employment: str  # employed | unemployed | self-employed | retired | none
    unemployment_insurance_months: int
    unemployment_registered: bool  # 失业登记
    startup_registered_on: dt.date | None  # business registered (一次性创业补贴)
    card_status_since: dt.date  # when the current card got its status
    bank: str
    account: str = field(repr=False)
    pin_salt: bytes = field(repr=False, default=b"")
    history: tuple[SeededApplication, ...] = ()

    def __repr__(self) -> str:
        return f"Profile(index={self.index})"


def household_of(seed: int, index: int, size: int) -> Household:
    block = index // HOUSEHOLD_BLOCK
    rng = random.Random(f"{seed}:{block}:household")
    start, k, left = 0, 0, HOUSEHOLD_BLOCK
    while True:
        length = min(rng.choice(_HOUSEHOLD_SIZES), left)
        local, low_income = rng.random() < 0.85, rng.random() < 0.15
        if start <= index % HOUSEHOLD_BLOCK < start + length:
            first = block * HOUSEHOLD_BLOCK + start
            members = tuple(i for i in range(first, first + length) if i < size)
            return Household(f"HH{block:08d}{k}", members, local, low_income)
        start, k, left = start + length, k + 1, left - length


def service_pin(seed: int, index: int) -> str:
    """The citizen's 6-digit service PIN. Testers read it from /sim/v1; the platform itself
    keeps only the salted hash (`pin_hash`)."""
    digest = hashlib.sha256(f"hrss central-sim pin\0{seed}\0{index}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def _hash(pin: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)


@lru_cache(maxsize=4096)
def pin_hash(seed: int, index: int, salt: bytes) -> bytes:
    return _hash(service_pin(seed, index), salt)


def pin_matches(profile: Profile, seed: int, presented: str) -> bool:
    expected = pin_hash(seed, profile.index, profile.pin_salt)
    return hmac.compare_digest(_hash(presented, profile.pin_salt), expected)


def period_of(kind: str, day: dt.date) -> str:
    """The claim period a day falls in, for a rule counting per `kind`."""
    return {"yearly": f"{day.year:04d}", "monthly": f"{day.year:04d}-{day.month:02d}",
            "once": "once"}[kind]


# Which subsidies the seeded history draws from, and their periods: kept here (not imported
# from the catalogue) so the history cannot change when a rule is edited.
_HISTORY_KINDS = {"skill-upgrade": "yearly", "job-seeking": "yearly", "startup-once": "once",
                  "unemployment": "monthly"}
SEEDED_SERIAL_LIMIT = 50_000_000  # seeded application numbers below it, live ones above


def seeded_application_no(day: dt.date, index: int, k: int) -> str:
    return f"SQ{day:%Y%m%d}{index * 4 + k:08d}"


def _adult(birth: dt.date) -> dt.date:
    """The 18th birthday (28 February for someone born on the 29th)."""
    return dt.date(birth.year + 18, birth.month, min(birth.day, 28))


def _history(seed: int, citizen: Citizen, deceased_on: dt.date | None) -> tuple[
        SeededApplication, ...]:
    rng = random.Random(f"{seed}:{citizen.index}:history")
    last = REFERENCE_DAY - dt.timedelta(days=20)
    if deceased_on is not None:
        last = min(last, deceased_on - dt.timedelta(days=5))
    first = max(REFERENCE_DAY - dt.timedelta(days=4 * 365),
                _adult(citizen.birth_date))
    out: list[SeededApplication] = []
    seen: set[tuple[str, str]] = set()
    for k in range(rng.choice((1, 1, 2, 2, 3))):
        subsidy = rng.choice(sorted(_HISTORY_KINDS))
        span = (last - first).days
        day = first + dt.timedelta(days=rng.randint(0, max(span, 0)))
        at = dt.datetime(day.year, day.month, day.day, rng.randint(1, 8), rng.randrange(60),
                         tzinfo=dt.UTC)  # 09:00-16:59 in Beijing: hall hours
        period = period_of(_HISTORY_KINDS[subsidy], day)
        if span < 0 or (subsidy, period) in seen:
            continue
        seen.add((subsidy, period))
        out.append(SeededApplication(seeded_application_no(day, citizen.index, k), subsidy,
                                     period, at))
    return tuple(sorted(out, key=lambda a: a.submitted_at))


def make_profile(population: Population, index: int) -> Profile:
    citizen = population.citizen(index)
    seed = population.seed
    rng = extra_rng(seed, index)
    rng.random()  # the blacklist roll, drawn by Population._make_citizen
    deceased_on = None
    if rng.random() < DECEASED_RATE:
        adult = _adult(citizen.birth_date)
        deceased_on = max(REFERENCE_DAY - dt.timedelta(days=rng.randint(10, 1000)), adult)
        deceased_on = min(deceased_on, REFERENCE_DAY - dt.timedelta(days=1))
    employment, months, registered, startup = _employment(rng, citizen)
    issued = citizen.current_card.issued_on
    span = max((REFERENCE_DAY - issued).days, 0)
    status_since = issued + dt.timedelta(days=rng.randint(0, span))
    if citizen.pension is not None:
        bank, account = citizen.pension.bank, citizen.pension.account
    else:
        bank, prefix = rng.choice(names.BANKS)
        account = prefix + f"{rng.randrange(10**10):010d}"
    salt = hashlib.sha256(f"hrss central-sim pin salt\0{seed}\0{index}".encode()).digest()[:16]
    return Profile(
        index=index, household=household_of(seed, index, population.size),
        deceased_on=deceased_on, employment=employment,
        unemployment_insurance_months=months, unemployment_registered=registered,
        startup_registered_on=startup, card_status_since=status_since, bank=bank,
        account=account, pin_salt=salt, history=_history(seed, citizen, deceased_on),
    )


def _employment(rng: random.Random, citizen: Citizen) -> tuple[str, int, bool, dt.date | None]:
    roll, months_roll, registered_roll = rng.random(), rng.randint(0, 120), rng.random()
    startup_roll, startup_days = rng.random(), rng.randint(30, 2000)
    if citizen.pension is not None:
        return "retired", 0, False, None
    insured = next((p for p in citizen.participation if p.scheme == "unemployment"), None)
    if roll < 0.65:
        months = 0
        if insured is not None:
            year, month = map(int, insured.since.split("-"))
            months = min((REFERENCE_DAY.year - year) * 12 + REFERENCE_DAY.month - month, 480)
        return "employed", max(months, 0), False, None
    if roll < 0.80:
        return "unemployed", months_roll, registered_roll < 0.85, None
    if roll < 0.92:
        started = REFERENCE_DAY - dt.timedelta(days=startup_days) if startup_roll < 0.7 else None
        return "self-employed", 0, False, started
    return "none", 0, False, None


class Profiles:
    """`profile(i)` for a population, cached like its citizens."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self.get = lru_cache(maxsize=4096)(self._make)

    def _make(self, index: int) -> Profile:
        return make_profile(self.population, index)
