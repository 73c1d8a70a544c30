"""The benefit services over the population and the durable state: card status as it is now,
applications and their histories, eligibility, the pre-check, and the card blacklist feed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_account
from common.problem import Problem
from simulators.central import applications, risk
from simulators.central.applications import Application, Event
from simulators.central.catalogue import CATALOGUE, SUBSIDY_NAMES, SubsidyRule
from simulators.central.deps import SimState
from simulators.central.population import Citizen, Population
from simulators.central.profiles import SEEDED_SERIAL_LIMIT, Profile
from simulators.central.schemas_services import ApplicationPayload

MAX_APPLICATIONS = 50
BLOCKED = frozenset({"reported-lost", "cancelled", "blacklisted"})


class PersonNotFound(Exception):
    """No person with this ID number."""


class FormInvalid(ValueError):
    """The form does not fit the subsidy's form fields (a malformed request, not a finding)."""


def person_not_found() -> Problem:
    return Problem(404, "person-not-found", "No person with this ID number")


def profile(state: SimState, citizen: Citizen) -> Profile:
    assert state.profiles is not None
    return state.profiles.get(citizen.index)


# -- cards -------------------------------------------------------------------------------------
def card_status(state: SimState, citizen: Citizen) -> str:
    """The current card's status now: a loss report, its reversal or a tester's change wins
    over the seeded status."""
    override = state.db.card_override(citizen.index)
    return override.status if override is not None else citizen.current_card.status


def card_changed_at(state: SimState, citizen: Citizen) -> dt.datetime:
    override = state.db.card_override(citizen.index)
    if override is not None:
        return override.changed_at
    since = profile(state, citizen).card_status_since
    return dt.datetime(since.year, since.month, since.day, tzinfo=CHINA_TZ).astimezone(dt.UTC)


def as_it_is_now(state: SimState, citizen: Citizen) -> Citizen:
    """The citizen with the current card's status as it is now."""
    status = card_status(state, citizen)
    if status == citizen.current_card.status:
        return citizen
    card = dataclasses.replace(citizen.current_card, status=status)
    return dataclasses.replace(citizen, cards=(*citizen.cards[:-1], card))


# -- applications ------------------------------------------------------------------------------
def all_applications(state: SimState, citizen: Citizen, now: dt.datetime) -> list[Application]:
    """Seeded and recorded, oldest first (seeded ones only once they have happened)."""
    seeded = [
        Application(a.application_no, citizen.index, a.subsidy, a.period, a.submitted_at,
                    a.submitted_at)
        for a in profile(state, citizen).history if a.submitted_at <= now
    ]
    return sorted(seeded + state.db.applications(citizen.index), key=lambda a: a.submitted_at)


def find_application(state: SimState, application_no: str) -> Application | None:
    """A recorded application, or a seeded one (its number names its citizen)."""
    found = state.db.application(application_no)
    if found is not None:
        return found
    serial = application_no[-8:]
    if len(application_no) != 18 or not serial.isdigit() or int(serial) >= SEEDED_SERIAL_LIMIT:
        return None
    index = int(serial) // 4
    if index >= state.population.size:
        return None
    citizen = state.population.citizen(index)
    for a in profile(state, citizen).history:
        if a.application_no == application_no:
            return Application(a.application_no, index, a.subsidy, a.period, a.submitted_at,
                               a.submitted_at)
    return None


def history(state: SimState, app: Application, now: dt.datetime) -> list[Event]:
    return applications.history(app, state.db.overrides(app.application_no), now)


def claims(state: SimState, citizen: Citizen, now: dt.datetime) -> frozenset[tuple[str, str]]:
    """(subsidy, period) of the applications that count against a new claim: all but the
    rejected ones."""
    return frozenset(
        (a.subsidy, a.period) for a in all_applications(state, citizen, now)
        if history(state, a, now)[-1].status != "rejected"
    )


def application_items(state: SimState, citizen: Citizen) -> list[dict[str, Any]]:
    now = state.now()
    out = []
    for app in reversed(all_applications(state, citizen, now)):
        events = history(state, app, now)
        status = events[-1].status
        amount = applications.amount(app, status)
        paid = applications.paid(status)
        who = profile(state, citizen)
        out.append({
            "application_no": app.application_no, "subsidy": app.subsidy,
            "subsidy_name": SUBSIDY_NAMES[app.subsidy], "period": app.period,
            "amount": None if amount is None else f"{amount:.2f}", "status": status,
            "history": [{"status": e.status, "at": iso_utc(e.at), "reason": e.reason}
                        for e in events],
            "bank": who.bank if paid else None,
            "account_masked": mask_account(who.account) if paid else None,
        })
        if len(out) == MAX_APPLICATIONS:
            break
    return out


# -- eligibility and the pre-check --------------------------------------------------------------
def case(state: SimState, citizen: Citizen, rule: SubsidyRule, period: str,
         identity: risk.Identity | None) -> risk.Case:
    now = state.now()
    return risk.Case(
        citizen=citizen, profile=profile(state, citizen), card_status=card_status(state, citizen),
        rule=rule, period=period, identity=identity, today=state.business_date(),
        claims=claims(state, citizen, now),
    )


def catalogue_items(state: SimState, citizen: Citizen) -> list[dict[str, Any]]:
    today = state.business_date()
    out = []
    for rule in CATALOGUE.values():
        period = rule.period(today)
        findings = risk.run(case(state, citizen, rule, period, None), risk.ELIGIBILITY)
        out.append({
            "code": rule.code, "name": rule.name,
            "amount": None if rule.amount is None else f"{rule.amount:.2f}", "period": period,
            "eligible": not findings,
            "reason_code": findings[0].code if findings else None,
            "reason": findings[0].message if findings else None,
            "form_fields": [dataclasses.asdict(f) for f in rule.form_fields],
        })
    return out


def assess(state: SimState, payload: ApplicationPayload) -> tuple[Citizen | None,
                                                                  list[risk.Finding]]:
    """The application's citizen and the validators' findings (none: it may be recorded).

    Raises PersonNotFound and FormInvalid."""
    wrong_check = risk.check_character(payload.citizen_id)
    if wrong_check:
        return None, wrong_check
    citizen = state.population.find(payload.citizen_id)
    if citizen is None:
        raise PersonNotFound
    rule = CATALOGUE.get(payload.subsidy)
    if rule is None:
        return citizen, [risk.unknown_subsidy()]
    error = rule.form_error(dict(payload.form))
    if error is not None:
        raise FormInvalid(error)
    ident = None if payload.identity is None else risk.Identity(**payload.identity.model_dump())
    return citizen, risk.run(case(state, citizen, rule, payload.period, ident))


# -- the blacklist feed ------------------------------------------------------------------------
# Seeded blocked cards by (seed, chunk of indexes): a citizen does not depend on the size of
# the population, so halls of one process share the scan (it costs ~0.1 ms a citizen).
_CHUNK = 1000
_static_blocked: dict[tuple[int, int], tuple[int, ...]] = {}
MAX_FEED_SCAN = 20_000  # citizens scanned by one call of the first pull; `more` says go on


def _blocked_in_chunk(population: Population, chunk: int) -> tuple[int, ...]:
    start = chunk * _CHUNK
    stop = min(start + _CHUNK, population.size)
    found = _static_blocked.get((population.seed, chunk))
    if found is None:
        found = tuple(i for i in range(start, stop)
                      if population.citizen(i).current_card.status in BLOCKED)
        if stop == start + _CHUNK:  # only whole chunks are shared
            _static_blocked[(population.seed, chunk)] = found
    return tuple(i for i in found if i < stop)


def _item(card_number: str, status: str, at: dt.datetime) -> dict[str, str]:
    # `replaced` is not in the feed's vocabulary: a replaced card is as good as cancelled.
    return {"card_number": card_number, "status": "cancelled" if status == "replaced" else status,
            "changed_at": iso_utc(at)}


def _cursor(state: SimState, since: str | None) -> tuple[int, int]:
    """(next population index of the first pull, last change seen) of a cursor."""
    size = state.population.size
    if since is None:
        return 0, state.db.last_card_change()
    left, dot, right = since[1:].partition(".")
    if since[:1] == "b" and dot and left.isdigit() and right.isdigit():
        scan_from, seq = int(left), int(right)
    elif since[:1] == "c" and left.isdigit() and not dot:
        scan_from, seq = size, int(left)
    else:
        raise Problem(422, "invalid-cursor", "Not a cursor of this feed")
    if scan_from > size or seq > state.db.last_card_change():
        raise Problem(422, "invalid-cursor", "Not a cursor of this feed")
    return scan_from, seq


def blacklist_page(state: SimState, since: str | None, limit: int) -> dict[str, Any]:
    """A page of the delta feed. Cursors: `b<index>.<seq>` while the first pull walks the
    population (then the changes after `seq`), `c<seq>` for the changes after `seq`."""
    store, population = state.db, state.population
    scan_from, seq = _cursor(state, since)
    items: list[dict[str, str]] = []
    if scan_from < population.size:
        stop = min(population.size, scan_from + MAX_FEED_SCAN)
        overridden = {i for i in store.overridden_indexes() if scan_from <= i < stop}
        index = scan_from
        while index < stop and len(items) < limit:
            chunk = index // _CHUNK
            chunk_stop = min((chunk + 1) * _CHUNK, stop)
            candidates = sorted({i for i in _blocked_in_chunk(population, chunk)
                                 if index <= i < chunk_stop}
                                | {i for i in overridden if index <= i < chunk_stop})
            for i in candidates:
                citizen = population.citizen(i)
                status = card_status(state, citizen)
                if status == "normal":
                    continue
                items.append(_item(citizen.current_card.card_number, status,
                                   card_changed_at(state, citizen)))
                if len(items) == limit:
                    index = i + 1
                    break
            else:
                index = chunk_stop
        if index < population.size:
            return {"items": items, "next": f"b{index}.{seq}", "more": True}
    rows = store.card_changes(seq, limit - len(items) + 1)
    more = len(rows) > limit - len(items)
    rows = rows[: limit - len(items)]
    items += [_item(number, status, at) for _seq, number, status, at in rows]
    last = rows[-1][0] if rows else seq
    return {"items": items, "next": f"c{last}", "more": more}
