"""`/sim/v1`: the tester's controls (test data, e-card tokens, faults); not in the contract."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from common.clock import iso_utc
from common.problem import Problem
from simulators.central import benefits, ecard_tokens, profiles
from simulators.central.applications import Event
from simulators.central.deps import State
from simulators.central.faults import Faults
from simulators.central.schemas import (
    CitizenDetail,
    CitizenPage,
    CitizenSummary,
    HouseholdOut,
    TokenIssued,
    TokenRequest,
)
from simulators.central.schemas_services import (
    Advance,
    ApplicationOut,
    CardStatusIn,
    Ingest,
    SubmissionPage,
    SubmissionRow,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/sim/v1", tags=["simulator controls"])

# Bounds the work of one filtered list request on a million citizens; continue at next_offset.
MAX_SCAN = 20_000
CardStatus = Literal["normal", "reported-lost", "replaced", "cancelled", "blacklisted"]
Subsidy = Literal["skill-upgrade", "job-seeking", "startup-once", "unemployment"]


@router.get("/citizens")
def list_citizens(
    state: State,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    card_status: Annotated[CardStatus | None, Query(description="Current card's status")] = None,
    receiving_pension: Annotated[bool | None, Query()] = None,
    deceased: Annotated[bool | None, Query(description="Recorded as deceased")] = None,
    eligible_for: Annotated[
        Subsidy | None, Query(description="May claim this subsidy for the current period")
    ] = None,
) -> CitizenPage:
    """Citizens from population index `offset` on, optionally filtered.

    Scans at most MAX_SCAN citizens per call; `next_offset` says where to go on.
    """
    population = state.population
    today = state.business_date()
    items: list[CitizenSummary] = []
    index = offset
    end = min(population.size, offset + MAX_SCAN)
    while index < end and len(items) < limit:
        citizen = population.citizen(index)
        index += 1
        if card_status is not None and benefits.card_status(state, citizen) != card_status:
            continue
        if receiving_pension is not None and (citizen.pension is not None) != receiving_pension:
            continue
        if deceased is not None and (
                benefits.profile(state, citizen).deceased_on is not None) != deceased:
            continue
        if eligible_for is not None and not _eligible(state, citizen, eligible_for):
            continue
        items.append(CitizenSummary.of(benefits.as_it_is_now(state, citizen), today))
    return CitizenPage(
        total=population.size, items=items,
        next_offset=index if index < population.size else None,
    )


@router.get("/citizens/{index}", responses={404: {"description": "not-found"}})
def get_citizen(index: int, state: State) -> CitizenDetail:
    if not 0 <= index < state.population.size:
        raise Problem(404, "not-found", "No citizen with this index")
    citizen = state.population.citizen(index)
    who = benefits.profile(state, citizen)
    detail = CitizenDetail.of(benefits.as_it_is_now(state, citizen), state.business_date())
    home = who.household
    return detail.model_copy(update={
        "service_pin": profiles.service_pin(state.population.seed, index),
        "household_id": home.household_id, "deceased_on": who.deceased_on,
        "household": HouseholdOut(household_id=home.household_id, members=list(home.members),
                                  head=home.head, local=home.local, low_income=home.low_income),
        "employment": who.employment,
        "unemployment_insurance_months": who.unemployment_insurance_months,
        "unemployment_registered": who.unemployment_registered,
        "startup_registered_on": who.startup_registered_on,
        "eligible_for": [i["code"] for i in benefits.catalogue_items(state, citizen)
                         if i["eligible"]],
    })


def _eligible(state: State, citizen: object, code: str) -> bool:
    items = benefits.catalogue_items(state, citizen)  # type: ignore[arg-type]
    return any(i["code"] == code and i["eligible"] for i in items)


@router.post("/ecard-tokens", status_code=201, responses={404: {"description": "not-found"}})
def issue_token(request: TokenRequest, state: State) -> TokenIssued:
    """An electronic social security card code, as the citizen's phone app would show it:
    valid `ttl_s` (<= 60) seconds, once, at `device_id` only when one is given."""
    citizen = state.population.find(request.citizen_id)
    if citizen is None:
        raise Problem(404, "person-not-found", "No person with this ID number")
    expires_at = state.now() + dt.timedelta(seconds=request.ttl_s)
    token = ecard_tokens.issue(state.config.token_secret, citizen.index, expires_at,
                               device_id=request.device_id)
    log.info("issued an e-card token for citizen #%d, valid %ds%s", citizen.index,
             request.ttl_s, f", for terminal {request.device_id}" if request.device_id else "")
    return TokenIssued(token=token, expires_at=iso_utc(expires_at))


@router.get("/faults")
def get_faults(state: State) -> Faults:
    return state.faults.get()


@router.put("/faults")
def put_faults(faults: Faults, state: State) -> Faults:
    """Replace all faults; a field left out is switched off."""
    log.warning(
        "faults now: outage=%s latency_ms=%d error_rate=%.3f hostile=%s",
        faults.outage, faults.latency_ms, faults.error_rate, faults.hostile or "off",
    )
    return state.faults.set(faults)


# -- issue 6: submissions, applications, cards --------------------------------------------------
@router.get("/ingest")
def ingest(state: State) -> Ingest:
    """Items (not calls) by the outcome they were answered with; durable across restarts."""
    return Ingest(**state.db.counters())


@router.get("/submissions")
def list_submissions(
    state: State,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    outcome: Annotated[Literal["recorded", "refused"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SubmissionPage:
    """Stored submissions (each key once), in order of arrival (`seq`)."""
    total, rows = state.db.submissions(kind=kind, outcome=outcome, limit=limit, offset=offset)
    return SubmissionPage(total=total, items=[SubmissionRow(
        seq=r.seq, submission_key=r.submission_key, kind=r.kind, device_id=r.device_id,
        citizen_index=r.citizen_index,
        submitted_at=iso_utc(dt.datetime.fromisoformat(r.submitted_at)),
        received_at=iso_utc(dt.datetime.fromisoformat(r.received_at)),
        outcome=r.outcome, record=r.answer.get("record"),
        refusal=r.answer.get("refusal"),  # type: ignore[arg-type]
    ) for r in rows])


@router.post("/applications/{application_no}/advance",
             responses={404: {"description": "application-not-found"}})
def advance(application_no: str, body: Advance, state: State) -> ApplicationOut:
    """Move an application to a state now; its automatic steps stop there."""
    app = benefits.find_application(state, application_no)
    if app is None:
        raise Problem(404, "application-not-found", "No application with this number")
    if len(state.db.overrides(application_no)) >= 32:
        raise Problem(409, "too-many-steps", "This application has been advanced 32 times")
    state.db.add_override(application_no, Event(body.to, state.now(), body.reason))
    log.info("application %s advanced to %s", application_no, body.to)
    citizen = state.population.citizen(app.citizen_index)
    item = next(i for i in benefits.application_items(state, citizen)
                if i["application_no"] == application_no)
    return ApplicationOut(**item)


@router.post("/cards/status", responses={404: {"description": "person-not-found"}})
def set_card_status(body: CardStatusIn, state: State) -> dict[str, str]:
    """Set the current card's status (and feed the blacklist) as the platform's operators
    would."""
    citizen = state.population.find(body.citizen_id)
    if citizen is None:
        raise benefits.person_not_found()
    now = state.now()
    with state.db.atomic():
        state.db.set_card_status(citizen.index, citizen.current_card.card_number, body.status,
                                 now)
    log.info("card of citizen #%d set to %s", citizen.index, body.status)
    return {"card_status": body.status, "changed_at": iso_utc(now)}
