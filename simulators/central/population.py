"""A synthetic population, deterministic from a seed: identities, cards, insurance, payments.

Citizen `i` of seed `s` is always the same person, computed on demand from (s, i), so a million
citizens cost only an index of their ID numbers. Every ID has a valid GB 11643 check character.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import random
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from common import citizen_id
from simulators.central import names

DEFAULT_SEED = 42
DEFAULT_SIZE = 5000
MILLION = 1_000_000

GENERATION_YEARS = {1: (2000, 2011), 2: (2012, 2019), 3: (2020, 2026)}
SPEC_VERSION = {1: "1.00", 2: "2.00", 3: "3.00"}
MOHRSS_RID = "D156000005"
BLACKLIST_RATE = 0.003  # of current cards that would otherwise be normal


def extra_rng(seed: int, index: int) -> random.Random:
    """The stream of the attributes added after the first release (households, PIN, card
    blacklist, eligibility): separate, so adding them changed no existing citizen."""
    return random.Random(f"{seed}:{index}:extra")


@dataclass(frozen=True)
class SimCard:
    card_number: str = field(repr=False)  # 9 ASCII characters
    card_id_code: str = field(repr=False)  # 32 hex characters, issuing region first
    generation: int
    status: str  # normal | reported-lost | replaced | cancelled | blacklisted
    issued_on: dt.date
    expires_on: dt.date
    card_type: str = "3"
    init_org_code: str = ""  # 24 hex characters (12 bytes)

    @property
    def spec_version(self) -> str:
        return SPEC_VERSION[self.generation]


@dataclass(frozen=True)
class Participation:
    scheme: str
    status: str  # contributing | receiving | suspended | ended
    since: str  # YYYY-MM

    @property
    def scheme_name(self) -> str:
        return names.SCHEME_NAMES[self.scheme]


@dataclass(frozen=True)
class Pension:
    scheme: str
    start: str  # YYYY-MM of the first payment
    monthly_at_start: Decimal
    bank: str
    account: str = field(repr=False)
    pay_day: int


@dataclass(frozen=True, repr=False)
class Citizen:
    index: int
    citizen_id: str
    name: str
    gender: str  # "1" male, "2" female
    birth_date: dt.date
    ethnicity: str  # 2-digit code; "01" Han, "05" Uyghur
    region: str
    cards: tuple[SimCard, ...]
    participation: tuple[Participation, ...]
    pension: Pension | None = field(default=None)

    @property
    def current_card(self) -> SimCard:
        return self.cards[-1]

    @property
    def region_name(self) -> str:
        return names.REGION_NAMES.get(self.region, "")

    def age(self, today: dt.date) -> int:
        years = today.year - self.birth_date.year
        return years - ((today.month, today.day) < (self.birth_date.month, self.birth_date.day))

    def __repr__(self) -> str:
        return f"Citizen(index={self.index})"


@dataclass(frozen=True)
class Contribution:
    """One contribution record. Employee schemes are monthly; the resident scheme is paid once a
    year and recorded on the January of the year it covers."""

    period: str  # YYYY-MM
    scheme: str
    base: Decimal  # 缴费基数 (monthly wage base), or the resident scheme's chosen annual grade
    personal: Decimal
    employer: Decimal  # the employer's share, or the government subsidy (resident scheme)
    status: str  # paid | arrears


# The resident scheme's annual grades (yuan) and the government subsidy each one earns.
RESIDENT_GRADES: tuple[tuple[int, int], ...] = (
    (200, 30), (300, 40), (500, 60), (800, 80), (1000, 100), (1500, 120), (2000, 150),
)
EMPLOYEE_PERSONAL_RATE = Decimal("0.08")
EMPLOYER_RATE = Decimal("0.16")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Payment:
    period: str
    amount: Decimal
    paid_on: dt.date
    status: str  # paid | pending | returned
    bank: str
    account: str = field(repr=False)


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    values = [p[0] for p in pairs]
    cumulative = list(itertools.accumulate(p[1] for p in pairs))
    return values, cumulative


_SURNAMES, _SURNAME_CUM = _weighted(names.SURNAMES)
_REGION_CODES = [r[0] for r in names.REGIONS]
_REFERENCE_TODAY = dt.date(2026, 11, 22)  # fixes the age mix; payments use the caller's today


def _pick_surname(rng: random.Random) -> str:
    return _SURNAMES[bisect.bisect_right(_SURNAME_CUM, rng.randrange(_SURNAME_CUM[-1]))]


def _birth_date(rng: random.Random) -> dt.date:
    # Skewed towards the people who use a social security hall's terminals: retirees.
    age = int(rng.triangular(18, 95, 68))
    day_of_year = rng.randrange(365)
    year = _REFERENCE_TODAY.year - age
    return dt.date(year, 1, 1) + dt.timedelta(days=day_of_year)


def _months(period: str, delta: int) -> str:
    year, month = map(int, period.split("-"))
    total = year * 12 + (month - 1) + delta
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _period(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


class Population:
    """`citizen(i)` for 0 <= i < size; `find(citizen_id)` by ID number."""

    def __init__(self, seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("a population needs at least one citizen")
        self.seed = seed
        self.size = size
        self._index: dict[str, int] | None = None
        self._bumps: dict[int, int] = {}
        self._index_lock = threading.Lock()
        self.citizen = lru_cache(maxsize=4096)(self._make_citizen)

    # -- identity ---------------------------------------------------------------------------
    def _rng(self, index: int, part: str) -> random.Random:
        return random.Random(f"{self.seed}/{index}/{part}")

    def _first17(self, index: int, bump: int = 0) -> tuple[str, str, dt.date, int]:
        """The ID without its check character (which follows from it): cheap enough to index
        a million citizens at start-up."""
        rng = self._rng(index, "id")
        region = rng.choice(_REGION_CODES)
        birth = _birth_date(rng)
        gender = rng.choice("12")
        sequence = rng.randrange(0, 500) * 2 + (1 if gender == "1" else 0)
        sequence = (sequence + 2 * bump) % 1000
        first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
        return first17, region, birth, sequence

    def _identity(self, index: int, bump: int = 0) -> tuple[str, str, dt.date, int]:
        first17, region, birth, sequence = self._first17(index, bump)
        return first17 + citizen_id.check_char(first17), region, birth, sequence

    def _build_index(self) -> dict[str, int]:
        # Keyed by the first 17 characters: the check character adds nothing to uniqueness and
        # computing it was a third of the start-up time of a million citizens.
        index: dict[str, int] = {}
        bumps: dict[int, int] = {}
        for i in range(self.size):
            bump = 0
            key = self._first17(i, bump)[0]
            while key in index:  # rare: same region, birth date and sequence
                bump += 1
                key = self._first17(i, bump)[0]
            if bump:
                bumps[i] = bump
            index[key] = i
        self._bumps = bumps
        return index

    def ensure_index(self) -> None:
        """Build the ID index now (a million citizens take several seconds); thread-safe."""
        with self._index_lock:
            if self._index is None:
                self._index = self._build_index()

    def find(self, cid: str) -> Citizen | None:
        self.ensure_index()
        assert self._index is not None
        value = cid.strip().upper()
        i = self._index.get(value[:17]) if len(value) == 18 else None
        if i is None:
            return None
        citizen = self.citizen(i)
        return citizen if citizen.citizen_id == value else None  # wrong check character

    # -- the whole person --------------------------------------------------------------------
    def _make_citizen(self, index: int) -> Citizen:
        if not 0 <= index < self.size:
            raise IndexError(f"citizen index {index} outside 0..{self.size - 1}")
        self.ensure_index()
        cid, region, birth, sequence = self._identity(index, self._bumps.get(index, 0))
        gender = "1" if sequence % 2 else "2"
        rng = self._rng(index, "person")
        uyghur = region == "653101" and rng.random() < 0.8
        name = self._name(rng, gender, birth, uyghur)
        cards = self._cards(rng, region, birth, index)
        participation, pension = self._insurance(rng, gender, birth)
        # Blacklisting came later than the other statuses: it is drawn from a stream of its own
        # (the first draw of the "extra" stream, see profiles.py) so that nobody else changed.
        if cards[-1].status == "normal" and extra_rng(self.seed, index).random() < BLACKLIST_RATE:
            cards = (*cards[:-1], dataclasses.replace(cards[-1], status="blacklisted"))
        return Citizen(
            index=index,
            citizen_id=cid,
            name=name,
            gender=gender,
            birth_date=birth,
            ethnicity="05" if uyghur else "01",
            region=region,
            cards=cards,
            participation=participation,
            pension=pension,
        )

    @staticmethod
    def _name(rng: random.Random, gender: str, birth: dt.date, uyghur: bool) -> str:
        if uyghur:
            name = f"{rng.choice(names.UYGHUR_GIVEN)}·{rng.choice(names.UYGHUR_FATHER)}"
            if rng.random() < 0.3:  # given·father·grandfather: often longer than EF06 tag 09
                name += f"·{rng.choice(names.UYGHUR_FATHER)}"
            return name
        older = birth.year < 1980
        if gender == "1":
            pool = names.GIVEN_OLDER_MALE if older else names.GIVEN_YOUNGER_MALE
        else:
            pool = names.GIVEN_OLDER_FEMALE if older else names.GIVEN_YOUNGER_FEMALE
        return _pick_surname(rng) + rng.choice(pool)

    @staticmethod
    def _cards(rng: random.Random, region: str, birth: dt.date, index: int) -> tuple[SimCard, ...]:
        first_year = max(birth.year + 16, 2000)
        cards: list[SimCard] = []
        # Adults mostly got their first card in the big issuing drives of 2000-2016; the young
        # get theirs at 16.
        year = rng.randint(first_year, 2016) if first_year <= 2016 else first_year
        year = min(year, 2026)
        while True:
            generation = next(g for g, (lo, hi) in GENERATION_YEARS.items() if lo <= year <= hi)
            issued = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
            issued = min(issued, _REFERENCE_TODAY)  # a card issued "this year" is not future
            # A 9-character card number: a letter per replacement and eight digits that are a
            # bijection of the index (7919 is coprime to 10**8), so numbers never collide.
            number = f"{'ABCDEFGHJK'[len(cards) % 10]}{(index * 7919 + 104729) % 10**8:08d}"
            cards.append(
                SimCard(
                    card_number=number,
                    card_id_code=f"{region}{MOHRSS_RID}{rng.getrandbits(64):016X}",
                    generation=generation,
                    status="replaced",
                    issued_on=issued,
                    expires_on=issued.replace(year=issued.year + 10),
                    init_org_code=f"{rng.getrandbits(96):024X}",
                )
            )
            # Most cards are replaced around their 10-year expiry, some years late: this gives
            # about 4 % generation 1, 46 % generation 2 and 50 % generation 3 in 2026.
            next_year = year + rng.randint(9, 18)
            if next_year > 2026 or len(cards) == 3:
                break
            year = next_year
        roll = rng.random()
        status = "reported-lost" if roll < 0.02 else "cancelled" if roll < 0.025 else "normal"
        cards[-1] = dataclasses.replace(cards[-1], status=status)
        return tuple(cards)

    @staticmethod
    def _insurance(
        rng: random.Random, gender: str, birth: dt.date
    ) -> tuple[tuple[Participation, ...], Pension | None]:
        employee = rng.random() < 0.7
        retire_age = 60 if gender == "1" else (55 if rng.random() < 0.5 else 50)
        retire = dt.date(birth.year + retire_age, birth.month, 1)
        start_work = _period(dt.date(birth.year + rng.randint(18, 25), rng.randint(1, 12), 1))
        # The youngest start work in a few years' time; nobody contributes from the future.
        start_work = min(start_work, _period(_REFERENCE_TODAY))
        scheme = "employee-pension" if employee else "resident-pension"
        resident_since = _period(dt.date(max(birth.year + 16, 2011), 7, 1))
        medical = Participation("medical", "receiving" if retire <= _REFERENCE_TODAY else
                                "contributing", max(start_work, "1999-01"))
        if retire <= _REFERENCE_TODAY:
            start = _months(_period(retire), 1)
            if not employee:
                start = max(start, "2011-07")  # the resident scheme pays from its founding
            base = (
                Decimal(rng.randint(2200, 6500)) if employee else Decimal(rng.randint(150, 700))
            ) + Decimal(rng.randint(0, 99)) / 100
            bank, prefix = rng.choice(names.BANKS)
            account = prefix + f"{rng.randrange(10**10):010d}"
            pension = Pension(scheme, start, base, bank, account, rng.choice((5, 10, 15, 20)))
            items = [Participation(scheme, "receiving", start), medical]
            return tuple(items), pension
        since = start_work if employee else resident_since
        status = "suspended" if rng.random() < 0.05 else "contributing"
        items = [Participation(scheme, status, since), medical]
        if employee and status == "contributing":
            items += [Participation("unemployment", "contributing", since),
                      Participation("work-injury", "contributing", since)]
        return tuple(items), None

    # -- contributions -----------------------------------------------------------------------
    def contributions(
        self,
        citizen: Citizen,
        today: dt.date,
        from_period: str | None = None,
        to_period: str | None = None,
    ) -> list[Contribution]:
        """Contributions to the pension schemes, newest first; the last 24 months by default.

        They run from the scheme's `since` to the month before the pension started (or to now
        while still contributing); a suspended participation stopped a year ago.
        """
        last = min(to_period or _period(today), _period(today))
        first = from_period or _months(last, -23)
        # Its own random stream, so that adding contributions changed no one's identity.
        rng = self._rng(citizen.index, "contributions")
        wage_now = Decimal(rng.randint(4000, 12000))
        grade, subsidy = rng.choice(RESIDENT_GRADES)
        birth = citizen.birth_date
        worked_from = _period(dt.date(birth.year + rng.randint(18, 25), rng.randint(1, 12), 1))
        out: list[Contribution] = []
        for p in citizen.participation:
            if p.scheme not in ("employee-pension", "resident-pension"):
                continue
            end = last
            paid_from = p.since
            if p.status == "receiving" and citizen.pension is not None:
                # `since` is when the pension started; they paid in during their working life.
                end = min(end, _months(citizen.pension.start, -1))
                paid_from = (worked_from if p.scheme == "employee-pension"
                             else max("2011-07", _period(birth.replace(year=birth.year + 16))))
            elif p.status == "suspended":
                end = min(end, _months(_period(today), -12))
            start = max(first, paid_from)
            if p.scheme == "employee-pension":
                out += self._employee_months(citizen, p, start, end, wage_now, today)
            else:
                out += [
                    Contribution(f"{year:04d}-01", p.scheme, Decimal(grade), Decimal(grade),
                                 Decimal(subsidy), "paid")
                    for year in range(int(start[:4]) + (start[5:] != "01"), int(end[:4]) + 1)
                ]
        return sorted(out, key=lambda c: (c.period, c.scheme), reverse=True)

    def _employee_months(
        self, citizen: Citizen, p: Participation, start: str, end: str, wage_now: Decimal,
        today: dt.date,
    ) -> list[Contribution]:
        out = []
        period = start
        recent = _months(_period(today), -2)
        while period <= end:
            # Wages grew about 5 % a year: the base in an earlier year is today's wage shrunk.
            years_ago = today.year - int(period[:4])
            base = (wage_now / Decimal("1.05") ** years_ago).quantize(_CENT, ROUND_HALF_UP)
            roll = random.Random(f"{self.seed}/{citizen.index}/contrib/{period}").random()
            # Employers are sometimes late with the latest months; older ones are settled.
            status = "arrears" if period >= recent and roll < 0.03 else "paid"
            out.append(Contribution(
                period, p.scheme, base,
                (base * EMPLOYEE_PERSONAL_RATE).quantize(_CENT, ROUND_HALF_UP),
                (base * EMPLOYER_RATE).quantize(_CENT, ROUND_HALF_UP), status,
            ))
            period = _months(period, 1)
        return out

    # -- payments ----------------------------------------------------------------------------
    def pension_payments(
        self,
        citizen: Citizen,
        today: dt.date,
        from_period: str | None = None,
        to_period: str | None = None,
    ) -> list[Payment]:
        """Monthly payments, newest first; the current month's is `pending` until its pay day."""
        pension = citizen.pension
        if pension is None:
            return []
        last = to_period or _period(today)
        first = from_period or _months(last, -23)
        first = max(first, pension.start)
        out: list[Payment] = []
        period = last
        while period >= first:
            year, month = map(int, period.split("-"))
            paid_on = dt.date(year, month, pension.pay_day)
            if paid_on > today and period != _period(today):
                period = _months(period, -1)
                continue
            # Pensions are raised each January, about 3 % a year in the recent decade.
            raises = year - int(pension.start[:4])
            amount = (pension.monthly_at_start * Decimal("1.03") ** raises).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            roll = random.Random(f"{self.seed}/{citizen.index}/pay/{period}").random()
            status = "pending" if paid_on > today else "returned" if roll < 0.005 else "paid"
            out.append(Payment(period, amount, paid_on, status, pension.bank, pension.account))
            period = _months(period, -1)
        return out
