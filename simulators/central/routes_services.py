"""`/central/v1` benefit services: subsidies, pre-check, submissions, applications, the card
blacklist feed (docs/contracts/central-api.md)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response

from common.clock import iso_utc
from common.problem import Problem
from simulators.central import benefits, hostile, intake
from simulators.central.deps import State
from simulators.central.population import Citizen
from simulators.central.routes_central import _PROBLEMS, contract_call
from simulators.central.schemas_services import (
    ApplicationPayload,
    ApplicationsAnswer,
    BlacklistAnswer,
    BlacklistQuery,
    CitizenQuery,
    PrecheckAnswer,
    SubmissionsAnswer,
    SubmissionsBatch,
    SubsidiesAnswer,
)

router = APIRouter(prefix="/central/v1", tags=["central: benefit services"])
_PRECHECK_PROBLEMS = {**_PROBLEMS, 422: {"description": "validation-error, invalid-form"}}


def _citizen(state: State, citizen_id: str) -> Citizen:
    citizen = state.population.find(citizen_id)
    if citizen is None:
        raise benefits.person_not_found()
    return citizen


@router.post("/subsidies/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=SubsidiesAnswer)
def query_subsidies(query: CitizenQuery, state: State) -> Response:
    citizen = _citizen(state, query.citizen_id)
    answer = SubsidiesAnswer(as_of=iso_utc(state.now()), citizen_id=citizen.citizen_id,
                             items=benefits.catalogue_items(state, citizen))  # type: ignore[arg-type]
    return hostile.respond(state.faults.get(), answer)


@router.post("/applications/precheck", dependencies=contract_call,
             responses=_PRECHECK_PROBLEMS, response_model=PrecheckAnswer)
def precheck(payload: ApplicationPayload, state: State) -> Response:
    """The validators of a submission, recording nothing."""
    try:
        _citizen_found, findings = benefits.assess(state, payload)
    except benefits.PersonNotFound:
        raise benefits.person_not_found() from None
    except benefits.FormInvalid as exc:
        raise Problem(422, "invalid-form", "The form does not fit the subsidy",
                      detail=str(exc)) from exc
    answer = PrecheckAnswer(as_of=iso_utc(state.now()), ok=not findings,
                            findings=[f.as_dict() for f in findings])  # type: ignore[misc]
    return hostile.respond(state.faults.get(), answer)


@router.post("/submissions", dependencies=contract_call,
             responses={401: _PROBLEMS[401], 503: _PROBLEMS[503]},
             response_model=SubmissionsAnswer)
def submit(batch: SubmissionsBatch, state: State) -> Response:
    """Items in order, each committed before the answer; see docs/contracts/central-api.md."""
    faults = state.faults.get()
    # One batch at a time: items of two batches never interleave, and the previous answer
    # (for duplicate_response_rate) is the one before this one.
    with state.batch_lock:
        results = intake.process(state, batch.items)
        body = json.dumps({"as_of": iso_utc(state.now()), "results": results},
                          ensure_ascii=False, separators=(",", ":")).encode()
        previous, state.last_batch_answer = state.last_batch_answer, body
    if state.faults.roll("lose_response_rate"):
        return hostile.CutResponse(body)
    if previous is not None and state.faults.roll("duplicate_response_rate"):
        body = previous
    if faults.hostile is not None:
        return hostile.respond(faults, SubmissionsAnswer.model_validate_json(body))
    return hostile.deliver(faults, body)


@router.post("/applications/query", dependencies=contract_call, responses=_PROBLEMS,
             response_model=ApplicationsAnswer)
def query_applications(query: CitizenQuery, state: State) -> Response:
    citizen = _citizen(state, query.citizen_id)
    answer = ApplicationsAnswer(as_of=iso_utc(state.now()), citizen_id=citizen.citizen_id,
                                items=benefits.application_items(state, citizen))  # type: ignore[arg-type]
    return hostile.respond(state.faults.get(), answer)


@router.post("/card-blacklist/query", dependencies=contract_call,
             responses={**_PROBLEMS, 422: {"description": "validation-error, invalid-cursor"}},
             response_model=BlacklistAnswer)
def query_blacklist(query: BlacklistQuery, state: State) -> Response:
    page = benefits.blacklist_page(state, query.since, query.limit)
    answer = BlacklistAnswer(as_of=iso_utc(state.now()), **page)
    return hostile.respond(state.faults.get(), answer)
