"""`/central/v1`: the contract of docs/contracts/central-api.md, served from the population."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Response

from common.clock import iso_utc
from common.problem import Problem
from simulators.central import benefits, ecard_tokens, hostile, records
from simulators.central.deps import SimState, State, apply_faults, require_api_key
from simulators.central.population import Citizen
from simulators.central.schemas import (
    AccountYearOut,
    ContributionOut,
    ContributionsAnswer,
    ContributionYearOut,
    ContributionYearsAnswer,
    Health,
    PaymentOut,
    PaymentsAnswer,
    PaymentsQuery,
    PensionAccountAnswer,
    PersonAnswer,
    PersonOut,
    PersonQuery,
    TokenAnswer,
    TokenQuery,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/central/v1", tags=["central"])
# Faults first: in a real outage the gateway answers before any credential is looked at.
contract_call = [Depends(apply_faults), Depends(require_api_key)]

_PROBLEMS = {
    401: {"description": "Missing or wrong API key"},
    404: {"description": "person-not-found"},
    503: {"description": "maintenance"},
}


def _person(state: SimState, citizen_id: str) -> Citizen:
    citizen = state.population.find(citizen_id)
    if citizen is None:
        raise Problem(404, "person-not-found", "No person with this ID number")
    return citizen


@router.get("/health")
def health(state: State) -> Health:
    """Liveness; needs no credential and ignores the faults."""
    return Health(status="ok", as_of=iso_utc(state.now()))


# Each contract call builds the contract's answer and hands it to `hostile.respond`, which
# sends it as it is unless a tester switched a hostile mode on.
@router.post("/persons/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=PersonAnswer)
def query_person(query: PersonQuery, state: State) -> Response:
    citizen = _person(state, query.citizen_id)
    faults = state.faults.get()
    if faults.hostile == "other-citizen":
        citizen = state.population.citizen((citizen.index + 1) % state.population.size)
    # The current card's status as it is now (loss reports, reversals, operators).
    citizen = benefits.as_it_is_now(state, citizen)
    answer = PersonAnswer(as_of=iso_utc(state.now()), person=PersonOut.model_validate(citizen))
    return hostile.respond(faults, answer)


@router.post("/pension-payments/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=PaymentsAnswer)
def query_payments(query: PaymentsQuery, state: State) -> Response:
    citizen = _person(state, query.citizen_id)
    today = state.business_date()
    current = f"{today.year:04d}-{today.month:02d}"
    # Nothing is paid in the future: clamping also bounds the work of an absurd to_period.
    to_period = min(query.to_period or current, current)
    if query.from_period is not None and query.from_period > to_period:
        raise Problem(422, "invalid-period", "from_period is after to_period")
    payments = state.population.pension_payments(citizen, today, query.from_period, to_period)
    answer = PaymentsAnswer(
        as_of=iso_utc(state.now()), items=[PaymentOut.of(p) for p in payments]
    )
    return hostile.respond(state.faults.get(), answer)


@router.post("/contributions/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=ContributionsAnswer)
def query_contributions(query: PaymentsQuery, state: State) -> Response:
    """Same query shape as payments: an ID and an optional inclusive window of months."""
    citizen = _person(state, query.citizen_id)
    if query.from_period and query.to_period and query.from_period > query.to_period:
        raise Problem(422, "invalid-period", "from_period is after to_period")
    items = state.population.contributions(
        citizen, state.business_date(), query.from_period, query.to_period
    )
    answer = ContributionsAnswer(
        as_of=iso_utc(state.now()), items=[ContributionOut.of(c) for c in items]
    )
    return hostile.respond(state.faults.get(), answer)


@router.post("/contributions/yearly", dependencies=contract_call, responses=_PROBLEMS,
             response_model=ContributionYearsAnswer)
def query_contribution_years(query: PersonQuery, state: State) -> Response:
    """The whole contribution history, one item per year and scheme, newest first."""
    citizen = _person(state, query.citizen_id)
    items = records.contribution_years(state.population, citizen, state.business_date())
    answer = ContributionYearsAnswer(
        as_of=iso_utc(state.now()), citizen_id=citizen.citizen_id,
        items=[ContributionYearOut.of(y) for y in items],
    )
    return hostile.respond(state.faults.get(), answer)


@router.post("/pension-account/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=PensionAccountAnswer)
def query_pension_account(query: PersonQuery, state: State) -> Response:
    """The pension personal account (个人账户): its balance and one entry per year."""
    citizen = _person(state, query.citizen_id)
    account = records.pension_account(state.population, citizen, state.business_date())
    answer = PensionAccountAnswer(
        as_of=iso_utc(state.now()), citizen_id=citizen.citizen_id, scheme=account.scheme,
        balance=f"{account.balance:.2f}", items=[AccountYearOut.of(y) for y in account.years],
    )
    return hostile.respond(state.faults.get(), answer)


@router.post(
    "/ecard-tokens/verify",
    dependencies=contract_call,
    responses={
        **_PROBLEMS, 403: {"description": "token-other-terminal"},
        409: {"description": "token-used"}, 410: {"description": "token-expired"},
        422: {"description": "token-invalid"},
    },
    response_model=TokenAnswer,
)
def verify_token(query: TokenQuery, state: State) -> Response:
    """Who a code belongs to. Each refusal has its own code, checked in this order: forged
    (422), expired (410), issued for another terminal (403), already used (409). Only a
    verification that answers 200 consumes the code."""
    now = state.now()
    try:
        claims = ecard_tokens.verify(state.config.token_secret, query.token, now,
                                     device_id=query.device_id)
    except ecard_tokens.TokenExpired as exc:
        raise Problem(410, "token-expired", "The electronic card code has expired") from exc
    except ecard_tokens.TokenInvalid as exc:
        raise Problem(422, "token-invalid", "Not a valid electronic card code") from exc
    except ecard_tokens.TokenOtherTerminal as exc:
        raise Problem(403, "token-other-terminal",
                      "The electronic card code was issued for another terminal") from exc
    if claims.index >= state.population.size:
        raise Problem(422, "token-invalid", "Not a valid electronic card code")
    try:
        ecard_tokens.ledger_of(state).consume(claims, now)
    except ecard_tokens.TokenUsed as exc:
        log.info("refused a replayed e-card token (citizen #%d)", claims.index)
        raise Problem(409, "token-used", "The electronic card code was already used") from exc
    citizen = state.population.citizen(claims.index)
    answer = TokenAnswer(
        as_of=iso_utc(now), citizen_id=citizen.citizen_id, expires_at=iso_utc(claims.expires_at)
    )
    return hostile.respond(state.faults.get(), answer)
