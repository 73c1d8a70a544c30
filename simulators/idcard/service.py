"""The simulated ID card reader's HTTP control API (`kioskctl sim idcard serve`).

    GET  /status        the port, the card on it (masked), the faults queued, request counts
    POST /place         {citizen_index | citizen_id, name?, expired?, valid_until?, card_type?}
                        a card already there is replaced
    POST /remove
    POST /fault         {kind, count?, on?}   (kinds: simulators/idcard/device.py)
    POST /clear-faults
    POST /unplug        the reader disappears (its pty closes, its link goes)
    POST /replug        back, on a new pty behind the same link

Answers are JSON; errors are problem+json. Citizen data appears only masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import signal
from types import FrameType
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator, model_validator

from common import citizen_id as cid
from common.clock import china_now
from common.problem import Problem
from simulators.central.population import Population
from simulators.idcard import DEFAULT_CONTROL_PORT, DEFAULT_LINK
from simulators.idcard.cards import LONG_TERM, SimIdCard, card_for_citizen, card_from_fields
from simulators.idcard.device import Fault, IdCardDevice, Target
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class PlaceRequest(BaseModel):
    citizen_index: int | None = Field(default=None, ge=0, description="Population index.")
    citizen_id: str | None = Field(
        default=None, min_length=18, max_length=18,
        description="The holder by ID; outside the population only together with a name.",
    )
    name: str | None = Field(default=None, min_length=1, max_length=20,
                             description="The name on the card instead of the holder's.")
    expired: bool = Field(default=False, description="Its validity ended 30 days ago.")
    valid_until: str | None = Field(default=None, description="'长期' or YYYY-MM-DD.")
    card_type: Literal["resident", "I", "J", "Y"] = Field(
        default="resident", description="I/J/Y: a foreigner's card or a residence permit.")

    @field_validator("valid_until")
    @classmethod
    def _until(cls, value: str | None) -> str | None:
        if value is None or value == LONG_TERM:
            return value
        if not _DATE.fullmatch(value):
            raise ValueError("valid_until is '长期' or YYYY-MM-DD")
        dt.date.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _one_holder(self) -> PlaceRequest:
        if self.citizen_index is not None and self.citizen_id is not None:
            raise ValueError("give citizen_index or citizen_id, not both")
        if self.name is not None and not self.name.isprintable():
            raise ValueError("a name holds printable characters only")
        return self


class FaultRequest(BaseModel):
    kind: Fault
    count: int | None = Field(default=None, ge=1, le=1000,
                              description="For this many answers (default: until cleared).")
    on: Target = Field(default="read", description="bad-checksum/garbage/mute: which answers.")


class IdCardSimulator:
    """The device plus the population its cards come from."""

    def __init__(self, device: IdCardDevice, population: Population) -> None:
        self.device = device
        self.population = population

    def today(self) -> dt.date:
        return china_now().date()

    def place(self, request: PlaceRequest) -> dict[str, Any]:
        card = self._card(request)
        self.device.place(card)
        return self.device.status()

    def _card(self, request: PlaceRequest) -> SimIdCard:
        today = self.today()
        until: dt.date | str | None = None
        if request.valid_until == LONG_TERM:
            until = LONG_TERM
        elif request.valid_until is not None:
            until = dt.date.fromisoformat(request.valid_until)
        card_type = "" if request.card_type == "resident" else request.card_type
        citizen = None
        if request.citizen_id is not None:
            citizen = self.population.find(request.citizen_id)
            if citizen is None:
                return self._outsider(request, until, card_type, today)
        else:
            index = request.citizen_index or 0
            if index >= self.population.size:
                raise Problem(404, "citizen-not-found", "Citizen index outside the population",
                              detail=f"the population has {self.population.size} citizens")
            citizen = self.population.citizen(index)
        return card_for_citizen(citizen, today, expired=request.expired, valid_until=until,
                                name=request.name, card_type=card_type)

    def _outsider(self, request: PlaceRequest, until: dt.date | str | None, card_type: str,
                  today: dt.date) -> SimIdCard:
        assert request.citizen_id is not None
        if request.name is None:
            raise Problem(404, "citizen-not-found", "No citizen with that ID in the population",
                          detail="give a name too to place a card for someone outside it")
        if not cid.is_valid(request.citizen_id):
            raise Problem(422, "invalid-citizen-id", "Not a valid citizen ID")
        valid_from = today - dt.timedelta(days=365)
        valid_until = None if until == LONG_TERM else (
            until if isinstance(until, dt.date) else today + dt.timedelta(days=3650))
        if request.expired:
            valid_from, valid_until = (today - dt.timedelta(days=3680),
                                       today - dt.timedelta(days=30))
        return card_from_fields(citizen_id=request.citizen_id, name=request.name,
                                valid_from=valid_from, valid_until=valid_until,
                                card_type=card_type)


def create_app(simulator: IdCardSimulator) -> FastAPI:
    app = FastAPI(title="Simulated resident ID card reader",
                  summary="Place and remove ID cards, inject faults, unplug the reader.",
                  version="1")
    install_problem_handlers(app)
    device = simulator.device

    @app.get("/status")
    def get_status() -> dict[str, Any]:
        return {**device.status(),
                "population": {"seed": simulator.population.seed,
                               "size": simulator.population.size}}

    @app.post("/place")
    def place(request: PlaceRequest) -> dict[str, Any]:
        return simulator.place(request)

    @app.post("/remove")
    def remove() -> dict[str, Any]:
        removed = device.remove()
        return {**device.status(), "removed": removed}

    @app.post("/fault")
    def fault(request: FaultRequest) -> dict[str, Any]:
        device.fault(request.kind, request.count, request.on)
        return device.status()

    @app.post("/clear-faults")
    def clear_faults() -> dict[str, Any]:
        device.clear_faults()
        return device.status()

    @app.post("/unplug")
    def unplug() -> dict[str, Any]:
        device.unplug()
        return device.status()

    @app.post("/replug")
    def replug() -> dict[str, Any]:
        try:
            device.plug()
        except OSError as exc:
            raise Problem(503, "pty-unavailable", "Could not open a pseudo-terminal",
                          detail=str(exc)) from exc
        return device.status()

    return app


def serve(*, link: str = DEFAULT_LINK, control_host: str = "127.0.0.1",
          control_port: int = DEFAULT_CONTROL_PORT, seed: int = 42,
          population: int = 5000) -> None:
    """Run until interrupted; the reader is unplugged (its link removed) on the way out."""
    import uvicorn

    people = Population(seed, population)
    people.citizen(0)  # builds the ID index now, so that the first place answers at once
    device = IdCardDevice(link)
    app = create_app(IdCardSimulator(device, people))
    log.info("ID card reader on %s (pty %s); control on http://%s:%d",
             device.path, device.status()["pty"], control_host, control_port)
    config = uvicorn.Config(app, host=control_host, port=control_port, log_config=None)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # would kill the process before `finally`, leaving the link pointing at a pts number the
    # kernel will hand to another terminal. Turned into SystemExit, the link is removed.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.Server(config).run()
    finally:
        device.close()
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
