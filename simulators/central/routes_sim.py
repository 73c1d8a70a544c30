"""`/sim/v1`: the tester's controls (test data, e-card tokens, faults); not in the contract."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from common.clock import iso_utc
from common.problem import Problem
from simulators.central import ecard_tokens
from simulators.central.deps import State
from simulators.central.faults import Faults
from simulators.central.schemas import (
    CitizenDetail,
    CitizenPage,
    CitizenSummary,
    TokenIssued,
    TokenRequest,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/sim/v1", tags=["simulator controls"])

# Bounds the work of one filtered list request on a million citizens; continue at next_offset.
MAX_SCAN = 20_000
CardStatus = Literal["normal", "reported-lost", "replaced", "cancelled"]


@router.get("/citizens")
def list_citizens(
    state: State,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    card_status: Annotated[CardStatus | None, Query(description="Current card's status")] = None,
    receiving_pension: Annotated[bool | None, Query()] = None,
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
        if card_status is not None and citizen.current_card.status != card_status:
            continue
        if receiving_pension is not None and (citizen.pension is not None) != receiving_pension:
            continue
        items.append(CitizenSummary.of(citizen, today))
    return CitizenPage(
        total=population.size, items=items,
        next_offset=index if index < population.size else None,
    )


@router.get("/citizens/{index}", responses={404: {"description": "not-found"}})
def get_citizen(index: int, state: State) -> CitizenDetail:
    if not 0 <= index < state.population.size:
        raise Problem(404, "not-found", "No citizen with this index")
    return CitizenDetail.of(state.population.citizen(index), state.business_date())


@router.post("/ecard-tokens", status_code=201, responses={404: {"description": "not-found"}})
def issue_token(request: TokenRequest, state: State) -> TokenIssued:
    """An electronic social security card code, as the citizen's phone app would show it."""
    citizen = state.population.find(request.citizen_id)
    if citizen is None:
        raise Problem(404, "person-not-found", "No person with this ID number")
    expires_at = state.now() + dt.timedelta(seconds=request.ttl_s)
    token = ecard_tokens.issue(state.config.token_secret, citizen.index, expires_at)
    log.info("issued an e-card token for citizen #%d, valid %ds", citizen.index, request.ttl_s)
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
