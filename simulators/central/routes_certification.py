"""Pension qualification certification routes (docs/contracts/central-api.md, 1.6-1.7): a
citizen's status with the enrolled template, the due roster of a village; and their /sim/v1
controls (terminals' signing keys, binding face photos, villages, the records)."""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from common.clock import iso_utc
from common.masking import mask_citizen_id
from common.problem import Problem
from simulators.central import benefits, certification, hostile
from simulators.central.deps import SimState, State
from simulators.central.routes_central import _PROBLEMS, contract_call
from simulators.central.schemas_certification import (
    MAX_ROSTER_PAGE,
    CertificationAnswer,
    CertificationPage,
    CertificationQuery,
    CertificationRow,
    DeviceKeyIn,
    DeviceKeyOut,
    DueAnswer,
    DueEntry,
    DueQuery,
    FacesIn,
    FacesOut,
    VillageCode,
    VillageOut,
    VillagesOut,
)
from simulators.central.schemas_services import DeviceId

log = logging.getLogger(__name__)

router = APIRouter(tags=["central: pension certification"])
_DUE_PROBLEMS = {401: _PROBLEMS[401], 503: _PROBLEMS[503]}


# -- /central/v1 -------------------------------------------------------------------------------
def _answer(state: SimState, citizen_id: str) -> Response:
    citizen = state.population.find(citizen_id)
    if citizen is None:
        raise benefits.person_not_found()
    status = certification.status_of(state, citizen, state.business_date())
    template = certification.templates(state, [citizen.index]).get(citizen.index)
    answer = CertificationAnswer(as_of=iso_utc(state.now()), citizen_id=citizen.citizen_id,
                                 template=template, **status.as_dict())
    return hostile.respond(state.faults.get(), answer)


@router.post("/central/v1/certification/query", dependencies=contract_call,
             responses=_PROBLEMS, response_model=CertificationAnswer)
def query_certification(query: CertificationQuery, state: State) -> Response:
    """The citizen's certification status and enrolled face template (the ID in the body:
    what the edge calls)."""
    return _answer(state, query.citizen_id)


@router.get("/central/v1/citizens/{citizen_id}/certification", dependencies=contract_call,
            responses=_PROBLEMS, response_model=CertificationAnswer)
def get_certification(citizen_id: str, state: State) -> Response:
    """The same as `POST /central/v1/certification/query`."""
    if len(citizen_id) > 32:
        raise benefits.person_not_found()
    return _answer(state, citizen_id)


def _roster(state: SimState, query: DueQuery) -> Response:
    after = int(query.after) if query.after is not None else None
    found, more = certification.due_roster(state, query.village, query.limit, after)
    temps = certification.templates(state, [c.index for c, _ in found])
    seed = state.population.seed
    answer = DueAnswer(
        as_of=iso_utc(state.now()), village=query.village, next=None if more is None else str(more),
        items=[DueEntry(citizen_id=c.citizen_id, name=c.name,
                        village=certification.village_of(seed, c), template=temps.get(c.index),
                        **status.as_dict()) for c, status in found],
    )
    return hostile.respond(state.faults.get(), answer)


@router.post("/central/v1/certification/due", dependencies=contract_call,
             responses=_DUE_PROBLEMS, response_model=DueAnswer)
async def post_due(query: DueQuery, state: State) -> Response:
    """Pensioners due in the villages starting with `village`, with their templates: the
    roster a field trip takes along. Paged by `next`."""
    return await run_in_threadpool(_roster, state, query)


@router.get("/central/v1/certification/due", dependencies=contract_call,
            responses=_DUE_PROBLEMS, response_model=DueAnswer)
async def get_due(
    state: State,
    village: Annotated[VillageCode, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_ROSTER_PAGE)] = 100,
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
) -> Response:
    """The same as `POST /central/v1/certification/due`."""
    query = DueQuery(village=village, limit=limit, after=after)
    return await run_in_threadpool(_roster, state, query)


# -- /sim/v1 -----------------------------------------------------------------------------------
@router.post("/sim/v1/devices/{device_id}/key", tags=["simulator controls"])
def register_key(device_id: DeviceId, body: DeviceKeyIn, state: State) -> DeviceKeyOut:
    """Register (or replace) a terminal's Ed25519 public key (base64 of its 32 bytes)."""
    from common.signing import valid_public_key

    if not valid_public_key(body.public_key):
        raise Problem(422, "invalid-public-key", "Not the base64 of a 32-byte Ed25519 key")
    at = certification.register_key(state, device_id, body.public_key)
    return DeviceKeyOut(device_id=device_id, registered_at=iso_utc(at))


@router.post("/sim/v1/faces", tags=["simulator controls"],
             responses={503: {"description": "photos-unavailable"}})
def bind_faces(body: FacesIn, state: State) -> FacesOut:
    """Enrol photos(identity)[0]'s template for these pensioners (`make_due`: and make them due
    today). Unknown IDs and non-pensioners are counted and left alone."""
    found = [state.population.find(cid) for cid in body.citizen_ids]
    known = [c for c in found if c is not None]
    pensioners = [c for c in known if c.pension is not None]
    try:
        bound = certification.bind_faces(state, body.identity, pensioners,
                                         make_due=body.make_due)
    except certification.PhotosUnavailable as exc:
        raise Problem(503, "photos-unavailable", "The enrolment photo is unavailable",
                      detail=str(exc)[:200]) from None
    log.info("face %s bound to %d pensioners (first %s)", body.identity, bound,
             mask_citizen_id(pensioners[0].citizen_id) if pensioners else "-")
    return FacesOut(bound=bound, not_pensioners=len(known) - len(pensioners),
                    unknown=len(found) - len(known))


@router.get("/sim/v1/villages", tags=["simulator controls"])
def list_villages(state: State,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> VillagesOut:
    """Villages with pensioners, those with most due first."""
    rows = certification.village_counts(state)[:limit]
    return VillagesOut(items=[VillageOut(village=v, pensioners=p, due=d) for v, p, d in rows])


@router.get("/sim/v1/certifications", tags=["simulator controls"])
def list_records(
    state: State,
    citizen_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CertificationPage:
    """The certification records, in order of arrival."""
    index = None
    if citizen_id is not None:
        citizen = state.population.find(citizen_id)
        if citizen is None:
            return CertificationPage(total=0, items=[])
        index = citizen.index
    total, rows = certification.records(state, index, limit, offset)
    names = ("seq", "certification_no", "citizen_index", "certified_at", "method", "device_id",
             "location", "staff_id", "evidence_sha256", "liveness_version", "signature",
             "received_at")
    return CertificationPage(total=total, items=[
        CertificationRow(**dict(zip(names, row[:-1], strict=True)), signed=json.loads(row[-1]))
        for row in rows])
