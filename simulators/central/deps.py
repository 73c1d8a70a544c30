"""Dependencies of the simulator's routes: its state, the API key check and the faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import math
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request

from common.clock import Clock, utc_now
from common.problem import Problem
from simulators.central.config import CentralSimConfig
from simulators.central.faults import FaultState
from simulators.central.population import Population
from simulators.central.profiles import Profiles
from simulators.central.store import Store


@dataclass
class SimState:
    """Everything one simulator process holds; built once by `create_app`."""

    config: CentralSimConfig
    population: Population
    faults: FaultState = field(default_factory=FaultState)
    clock: Clock = utc_now
    store: Store | None = None  # opened by create_app, under the data directory
    profiles: Profiles | None = None
    # The previous submissions answer, for `duplicate_response_rate`.
    last_batch_answer: bytes | None = None
    batch_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.profiles is None:
            self.profiles = Profiles(self.population)

    @property
    def db(self) -> Store:
        if self.store is None:
            raise RuntimeError("the simulator's store is not open")
        return self.store

    def now(self) -> dt.datetime:
        return self.clock()

    def business_date(self) -> dt.date:
        return self.config.business_date(self.now())


def get_state(request: Request) -> SimState:
    return request.app.state.sim  # type: ignore[no-any-return]


State = Annotated[SimState, Depends(get_state)]


def require_api_key(
    state: State, authorization: Annotated[str | None, Header()] = None
) -> None:
    """`Authorization: Bearer <api key>`; anything else is 401 (compared in constant time)."""
    scheme, _, presented = (authorization or "").partition(" ")
    expected = state.config.api_key.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise Problem(401, "unauthorized", "Missing or wrong API key")


async def apply_faults(state: State) -> None:
    """The tester's faults, applied before a contract call does any work.

    Async so that simulated latency sleeps on the event loop instead of holding a worker thread.
    """
    faults = state.faults.get()
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.outage:
        raise Problem(
            503, "maintenance", "The platform is under maintenance (simulated outage)",
            retry_after=30,
        )
    now = state.now()
    until = faults.outage_until(now)
    if until is not None:
        wait = max(1, min(math.ceil((until - now).total_seconds()), 3600))
        raise Problem(
            503, "maintenance", "The platform is under planned maintenance (simulated)",
            retry_after=wait,
        )
    if state.faults.roll_error():
        raise Problem(500, "simulated-error", "Simulated server error")
