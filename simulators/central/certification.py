"""Pension qualification certification (养老金领取资格认证, issue 7): who must certify when, the
enrolled face templates, terminals' signing keys, and the intake of signed records.

The rule: a pensioner certifies once per cycle of CYCLE_MONTHS. The next certification is due
CYCLE_MONTHS after the last one (the first: after the pension started) and may be made from
OPEN_DAYS before that date on, also when overdue. Before the window opens the pensioner is
"done" (certified before) or "not-due" (never yet); the deceased and non-pensioners never are.

The seeded history (the last certification before the simulator started) is deterministic
from (seed, index), drawn from a stream of its own so that no existing citizen changed; a
village (9 digits: the county code and a village number) likewise. Records made through the
intake, testers' "due now" overrides, templates and keys live in the store (store.py).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import logging
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common import signing
from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_citizen_id
from simulators.central import benefits
from simulators.central.population import Citizen
from simulators.central.profiles import REFERENCE_DAY
from simulators.central.schemas_certification import CertificationPayload

if TYPE_CHECKING:
    from simulators.central.deps import SimState
    from simulators.central.intake import Answer

log = logging.getLogger(__name__)

KIND = "pension-certification"
CYCLE_MONTHS = 12
OPEN_DAYS = 60  # the window opens this long before the due date
VILLAGES_PER_COUNTY = 4
# The seeded last certification was this many days before the reference day: about half of
# the pensioners are due on it.
SEEDED_DAYS_AGO = (200, 420)
TEMPLATE_SIZE = 128


# -- villages ----------------------------------------------------------------------------------
def village_of(seed: int, citizen: Citizen) -> str:
    number = random.Random(f"{seed}:{citizen.index}:village").randint(1, VILLAGES_PER_COUNTY)
    return f"{citizen.region}{number:03d}"


class VillageIndex:
    """Pensioners by village (population indexes, ascending): built once, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_village: dict[str, list[int]] | None = None

    def get(self, state: SimState) -> dict[str, list[int]]:
        with self._lock:
            if self._by_village is None:
                by_village: dict[str, list[int]] = {}
                population = state.population
                for index in range(population.size):
                    citizen = population.citizen(index)
                    if citizen.pension is not None:
                        by_village.setdefault(village_of(population.seed, citizen),
                                              []).append(index)
                self._by_village = by_village
            return self._by_village

    def matching(self, state: SimState, prefix: str) -> list[int]:
        found: list[int] = []
        for village, indexes in self.get(state).items():
            if village.startswith(prefix):
                found.extend(indexes)
        return sorted(found)


# By (seed, size): the villages follow from the population alone.
_INDEXES: dict[tuple[int, int], VillageIndex] = {}
_INDEXES_LOCK = threading.Lock()


def villages(state: SimState) -> VillageIndex:
    with _INDEXES_LOCK:
        key = (state.population.seed, state.population.size)
        return _INDEXES.setdefault(key, VillageIndex())


# -- dates -------------------------------------------------------------------------------------
def add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    for last in (31, 30, 29, 28):  # the same day, or the month's last one
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def china_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA_TZ).date()


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# -- status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status:
    status: str  # due | done | not-due | not-pensioner | deceased
    reason_code: str | None  # why a certification is refused now; None when due
    due_date: dt.date | None
    opens_on: dt.date | None
    last_certified_at: dt.datetime | None
    explanation: str
    cycle_months: int = CYCLE_MONTHS

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "reason_code": self.reason_code,
            "due_date": self.due_date, "opens_on": self.opens_on,
            "cycle_months": self.cycle_months,
            "last_certified_at": iso_utc(self.last_certified_at) if self.last_certified_at
            else None,
            "explanation": self.explanation,
        }


def _pension_start(citizen: Citizen) -> dt.date:
    assert citizen.pension is not None
    year, month = map(int, citizen.pension.start.split("-"))
    return dt.date(year, month, 1)


def seeded_last(seed: int, citizen: Citizen) -> dt.datetime | None:
    """The last certification before the simulator started (10:00 in Beijing), or None."""
    if citizen.pension is None:
        return None
    rng = random.Random(f"{seed}:{citizen.index}:certification")
    day = REFERENCE_DAY - dt.timedelta(days=rng.randint(*SEEDED_DAYS_AGO))
    if day < _pension_start(citizen):
        return None
    return dt.datetime(day.year, day.month, day.day, 10, tzinfo=CHINA_TZ).astimezone(dt.UTC)


def _last_recorded(state: SimState, index: int,
                   before: dt.datetime | None) -> dt.datetime | None:
    rows = state.db.execute(
        "SELECT certified_at FROM certifications WHERE citizen_index = ? "
        "ORDER BY certified_at DESC LIMIT 8", (index,))
    for (text,) in rows:
        at = dt.datetime.fromisoformat(text)
        if before is None or at < before:
            return at
    return None


def _override(state: SimState, index: int) -> tuple[dt.date, dt.datetime] | None:
    rows = state.db.execute(
        "SELECT due_on, set_at FROM certification_due WHERE citizen_index = ?", (index,))
    if not rows:
        return None
    return dt.date.fromisoformat(rows[0][0]), dt.datetime.fromisoformat(rows[0][1])


def status_of(state: SimState, citizen: Citizen, on: dt.date, *,
              before: dt.datetime | None = None) -> Status:
    """The citizen's certification status on day `on` (Beijing), counting the records made
    before `before` (all when None)."""
    if benefits.profile(state, citizen).deceased_on is not None:
        return Status("deceased", "deceased", None, None, None,
                      "该人员已登记死亡，养老金已停发，不能进行资格认证。")
    if citizen.pension is None:
        return Status("not-pensioner", "not-pensioner", None, None, None,
                      "没有领取养老金的记录，无需进行资格认证。")
    recorded = _last_recorded(state, citizen.index, before)
    last = recorded or seeded_last(state.population.seed, citizen)
    override = _override(state, citizen.index)
    if override is not None and (recorded is None or recorded < override[1]):
        due = override[0]  # a tester made them due; a later record starts a cycle again
    else:
        due = add_months(china_date(last) if last else _pension_start(citizen), CYCLE_MONTHS)
    opens = due - dt.timedelta(days=OPEN_DAYS)
    if on >= opens:
        if on > due:
            text = f"认证已于{_cn(due)}到期，请尽快完成认证，以免影响养老金发放。"
        else:
            text = f"请在{_cn(due)}前完成本周期的养老金领取资格认证。"
        return Status("due", None, due, opens, last, text)
    if last is not None:
        return Status("done", "already-certified", due, opens, last,
                      f"已于{_cn(china_date(last))}完成本周期认证，无需重复认证；"
                      f"下次认证从{_cn(opens)}开始。")
    return Status("not-due", "certification-not-due", due, opens, None,
                  f"还没到认证时间，首次认证从{_cn(opens)}开始。")


# -- templates ---------------------------------------------------------------------------------
class PhotosUnavailable(RuntimeError):
    """The enrolment photo is missing or shows no single face."""


@functools.lru_cache(maxsize=4)
def enrolment_template(identity: str) -> tuple[float, ...]:
    """face_recognition's encoding of photos(identity)[0]: computed once per process."""
    import face_recognition  # heavy (dlib): only when a tester binds faces

    from simulators.camera.photos import PhotosMissing, photos

    try:
        path = photos(identity)[0].path
    except PhotosMissing as exc:
        raise PhotosUnavailable(str(exc)) from exc
    encodings = face_recognition.face_encodings(face_recognition.load_image_file(path))
    if len(encodings) != 1:
        raise PhotosUnavailable(f"the enrolment photo of {identity} shows {len(encodings)} faces")
    return tuple(float(v) for v in encodings[0])


def bind_faces(state: SimState, identity: str, citizens: Iterable[Citizen], *,
               make_due: bool) -> int:
    """Enrol `identity`'s template for the pensioners among `citizens`; returns how many."""
    values = json.dumps(list(enrolment_template(identity)))
    now = state.now()
    bound = 0
    with state.db.atomic():
        for citizen in citizens:
            state.db.execute(
                "INSERT INTO face_templates VALUES (?, ?, ?, ?) ON CONFLICT (citizen_index) "
                "DO UPDATE SET identity = excluded.identity, template = excluded.template, "
                "bound_at = excluded.bound_at", (citizen.index, identity, values, iso_utc(now)))
            if make_due:
                state.db.execute(
                    "INSERT INTO certification_due VALUES (?, ?, ?) ON CONFLICT (citizen_index) "
                    "DO UPDATE SET due_on = excluded.due_on, set_at = excluded.set_at",
                    (citizen.index, state.business_date().isoformat(), now.isoformat()))
            bound += 1
    return bound


def templates(state: SimState, indexes: list[int]) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for start in range(0, len(indexes), 500):
        chunk = indexes[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = state.db.execute(
            f"SELECT citizen_index, template FROM face_templates "  # noqa: S608 - marks only
            f"WHERE citizen_index IN ({marks})", chunk)
        found.update({int(i): json.loads(t) for i, t in rows})
    return found


# -- device keys -------------------------------------------------------------------------------
def register_key(state: SimState, device_id: str, public_key: str) -> dt.datetime:
    now = state.now()
    with state.db.atomic():
        state.db.execute(
            "INSERT INTO device_keys VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
            "public_key = excluded.public_key, registered_at = excluded.registered_at",
            (device_id, public_key, iso_utc(now)))
    log.info("signing key of device %s registered", device_id)
    return now


def device_key(state: SimState, device_id: str) -> str | None:
    rows = state.db.execute("SELECT public_key FROM device_keys WHERE device_id = ?",
                            (device_id,))
    return rows[0][0] if rows else None


# -- the roster --------------------------------------------------------------------------------
def due_roster(state: SimState, village: str, limit: int,
               after: int | None) -> tuple[list[tuple[Citizen, Status]], int | None]:
    """Pensioners of the villages starting with `village` who are due today, by index from
    `after` on; and where the next page starts (None: no more)."""
    indexes = villages(state).matching(state, village)
    start = 0 if after is None else bisect.bisect_right(indexes, after)
    today = state.business_date()
    found: list[tuple[Citizen, Status]] = []
    for position in range(start, len(indexes)):
        citizen = state.population.citizen(indexes[position])
        status = status_of(state, citizen, today)
        if status.status == "due":
            found.append((citizen, status))
            if len(found) == limit:
                more = position + 1 < len(indexes)
                return found, citizen.index if more else None
    return found, None


def village_counts(state: SimState) -> list[tuple[str, int, int]]:
    today = state.business_date()
    out = []
    for village, indexes in villages(state).get(state).items():
        due = sum(1 for i in indexes
                  if status_of(state, state.population.citizen(i), today).status == "due")
        out.append((village, len(indexes), due))
    return sorted(out, key=lambda row: (-row[2], row[0]))


# -- the intake --------------------------------------------------------------------------------
def handle(state: SimState, payload: CertificationPayload, now: dt.datetime,
           submitted_at: dt.datetime) -> Answer:
    """One signed certification record: checked and recorded, or refused with its code."""
    from simulators.central.intake import MAX_SKEW, Answer, ItemInvalid, refused

    del submitted_at
    citizen = state.population.find(payload.citizen_id)
    if citizen is None:
        return refused("person-not-found", "查无此人，请核对身份证号码。")
    index = citizen.index
    key = device_key(state, payload.device_id)
    if key is None:
        return refused("unknown-device", "这台终端没有登记签名密钥，认证记录不予受理。",
                       citizen_index=index)
    if not signing.verify(key, payload.model_dump(mode="json"), payload.signature):
        log.warning("certification record of %s from device %s: bad signature",
                    mask_citizen_id(citizen.citizen_id), payload.device_id)
        return refused("bad-signature", "认证记录的签名无效，不予受理。", citizen_index=index)
    certified_at = dt.datetime.fromisoformat(payload.certified_at)
    if certified_at > now + MAX_SKEW:
        raise ItemInvalid("certified_at 在未来")
    # On the business day it was made (a fixed `today` of the simulator wins, as everywhere),
    # counting every record, also one made later but received first (two field terminals):
    # one certification per cycle whatever the order of arrival.
    status = status_of(state, citizen, state.config.business_date(certified_at))
    if status.status != "due":
        assert status.reason_code is not None
        return refused(status.reason_code, status.explanation, citizen_index=index)
    serial = state.db.bump("certification-serial", 1)
    number = f"RZ{now.astimezone(CHINA_TZ):%Y%m%d}{serial:08d}"
    state.db.execute(
        "INSERT INTO certifications (certification_no, citizen_index, certified_at, method, "
        "device_id, location, staff_id, evidence_sha256, liveness_version, signature, "
        "received_at, signed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, index, certified_at.astimezone(dt.UTC).isoformat(), payload.method,
         payload.device_id, payload.location, payload.staff_id, payload.evidence_sha256,
         payload.liveness_version, payload.signature, now.isoformat(),
         json.dumps(payload.model_dump(mode="json"), ensure_ascii=False)))
    next_due = add_months(china_date(certified_at), CYCLE_MONTHS)
    return Answer("recorded", record={
        "certification_no": number, "status": "done", "certified_at": iso_utc(certified_at),
        "next_due_date": next_due.isoformat(), "cycle_months": CYCLE_MONTHS,
    }, citizen_index=index)


_SELECT_RECORDS = (
    "SELECT seq, certification_no, citizen_index, certified_at, method, device_id, location, "
    "staff_id, evidence_sha256, liveness_version, signature, received_at, signed "
    "FROM certifications"
)


def records(state: SimState, citizen_index: int | None, limit: int,
            offset: int) -> tuple[int, list[tuple[Any, ...]]]:
    # One fixed condition or none; the values are bound parameters.
    where, args = ("WHERE citizen_index = ?", [citizen_index]) if citizen_index is not None \
        else ("", [])
    total = state.db.execute(f"SELECT count(*) FROM certifications {where}", args)  # noqa: S608
    query = " ".join((_SELECT_RECORDS, where, "ORDER BY seq LIMIT ? OFFSET ?"))
    rows = state.db.execute(query, [*args, limit, offset])
    return int(total[0][0]), rows
