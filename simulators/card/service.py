"""The virtual card service: two reader slots, driven over HTTP.

Slot 0 is vpcd's reader "Virtual PCD 00 00" (vpcd port P) and slot 1 is "Virtual PCD 00 01"
(port P + 1). A slot holds no connection until a card is inserted: the card connects to vpcd
on insert and disconnects on remove, which is what pcscd sees as a card going in and out.

    GET  /status   slots, their cards (masked) and the population
    POST /insert   {citizen_index | citizen_id, generation?, protocol?, pull_after_apdus?,
                    stall_after_apdus?, latency_ms?, mute?, locked?, name? | name_hex?,
                    kind?, slot?}; a card already in the slot is replaced
    POST /remove   {slot?}

Answers are JSON; errors are problem+json. Citizen data appears only masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Body, FastAPI
from pydantic import BaseModel, Field, model_validator

from common.clock import utc_now
from common.masking import mask_citizen_id, mask_name
from common.problem import Problem
from simulators.card.applet import ForeignCard, SscCard, VirtualCard
from simulators.card.vpcd_link import VpcdLink
from simulators.central.population import Citizen, Population
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

SLOTS = 2
DEFAULT_CONTROL_PORT = 8700
DEFAULT_VPCD_PORT = 35963  # Debian's vpcd default


class InsertRequest(BaseModel):
    """Which card goes in, and how it should misbehave."""

    citizen_index: int | None = Field(default=None, ge=0, description="Population index.")
    citizen_id: str | None = Field(
        default=None, min_length=18, max_length=18, description="Look the citizen up by ID."
    )
    generation: Literal[1, 2, 3] | None = Field(
        default=None, description="Override the card generation (default: the citizen's card)."
    )
    protocol: Literal["T=0", "T=1"] = "T=0"
    pull_after_apdus: int | None = Field(
        default=None, ge=0, description="Drop the connection when APDU number N+1 arrives."
    )
    stall_after_apdus: int | None = Field(
        default=None, ge=0,
        description="Answer N APDUs, then never answer the next one until the card is removed.",
    )
    latency_ms: float = Field(default=0.0, ge=0, le=10_000, description="Delay per APDU.")
    locked: Literal["6283", "6A81"] | None = Field(
        default=None,
        description="A blocked application: SELECT answers 6283 (deactivated) or 6A81 (blocked).",
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=40,
        description="The name on the chip instead of the holder's (GB18030, e.g. 王䶮 or an"
        " Ext-B character); cut where it does not fit, as a personaliser would.",
    )
    name_hex: str | None = Field(
        default=None, min_length=2, max_length=60, pattern="^([0-9A-Fa-f]{2})+$",
        description="Tag 09 as raw bytes (hex, at most 30 bytes): a name that is no GB18030.",
    )
    mute: bool = Field(default=False, description="Answer the ATR request with no ATR.")
    kind: Literal["ssc", "non-ssc"] = Field(
        default="ssc", description="'non-ssc': a card without the social security application."
    )
    slot: int = Field(default=0, ge=0, lt=SLOTS)

    @model_validator(mode="after")
    def _one_citizen(self) -> InsertRequest:
        if self.citizen_index is not None and self.citizen_id is not None:
            raise ValueError("give citizen_index or citizen_id, not both")
        if self.name is not None and self.name_hex is not None:
            raise ValueError("give name or name_hex, not both")
        if self.name is not None and not self.name.isprintable():
            raise ValueError("a name holds printable characters only")
        if self.name is not None:
            self.name.encode("gb18030")  # surrogates cannot be encoded: a ValueError
        return self


class RemoveRequest(BaseModel):
    slot: int = Field(default=0, ge=0, lt=SLOTS)


@dataclass
class _Inserted:
    link: VpcdLink
    card: VirtualCard
    request: InsertRequest
    citizen: Citizen | None
    inserted_at: dt.datetime
    state: str = "inserted"  # inserted | pulled | disconnected


class CardSimulator:
    """Owns the slots; thread-safe (HTTP handlers run on a thread pool, links on their own)."""

    def __init__(
        self, population: Population, vpcd_host: str = "127.0.0.1",
        vpcd_port: int = DEFAULT_VPCD_PORT,
    ) -> None:
        self.population = population
        self.vpcd_host = vpcd_host
        self.vpcd_port = vpcd_port
        self._slots: list[_Inserted | None] = [None] * SLOTS
        self._lock = threading.RLock()

    def reader_name(self, slot: int) -> str:
        return f"Virtual PCD 00 {slot:02d}"

    # -- actions ----------------------------------------------------------------------------------
    def insert(self, request: InsertRequest) -> dict[str, Any]:
        citizen = self._citizen(request) if request.kind == "ssc" else None
        card: VirtualCard
        if citizen is not None:
            card = SscCard.from_citizen(
                citizen, generation=request.generation, protocol=request.protocol,
                name=request.name, locked=request.locked,
                raw_name=bytes.fromhex(request.name_hex) if request.name_hex else None,
            )
        else:
            card = ForeignCard(protocol=request.protocol)
        slot = request.slot
        with self._lock:
            self._remove_locked(slot)
            link = VpcdLink(
                card, self.vpcd_host, self.vpcd_port + slot,
                pull_after_apdus=request.pull_after_apdus,
                stall_after_apdus=request.stall_after_apdus,
                latency_s=request.latency_ms / 1000,
                mute=request.mute,
            )
            entry = _Inserted(link, card, request, citizen, utc_now())
            link.on_closed = lambda reason: self._closed(slot, entry, reason)
            try:
                link.start()
            except OSError as exc:
                raise Problem(
                    503, "vpcd-unreachable", "The virtual reader is not reachable",
                    detail=f"vpcd at {self.vpcd_host}:{self.vpcd_port + slot}:"
                    f" {exc.strerror or exc} (is pcscd running with the vpcd driver?)",
                ) from exc
            self._slots[slot] = entry
            log.info(
                "card inserted in slot %d: %s, citizen #%s, %s",
                slot, request.kind, citizen.index if citizen else "-", request.protocol,
            )
            return self._slot_status(slot)

    def remove(self, slot: int) -> dict[str, Any]:
        with self._lock:
            removed = self._remove_locked(slot)
            status = self._slot_status(slot)
        return {**status, "removed": removed}

    def close(self) -> None:
        for slot in range(SLOTS):
            self.remove(slot)

    def status(self) -> dict[str, Any]:
        with self._lock:
            slots = [self._slot_status(slot) for slot in range(SLOTS)]
        return {
            "vpcd": {"host": self.vpcd_host, "port": self.vpcd_port},
            "population": {"seed": self.population.seed, "size": self.population.size},
            "slots": slots,
        }

    # -- internals --------------------------------------------------------------------------------
    def _citizen(self, request: InsertRequest) -> Citizen:
        if request.citizen_id is not None:
            citizen = self.population.find(request.citizen_id)
            if citizen is None:
                raise Problem(404, "citizen-not-found", "No citizen with that ID in the population")
            return citizen
        index = request.citizen_index or 0
        if index >= self.population.size:
            raise Problem(
                404, "citizen-not-found", "Citizen index outside the population",
                detail=f"the population has {self.population.size} citizens",
            )
        return self.population.citizen(index)

    def _remove_locked(self, slot: int) -> bool:
        entry = self._slots[slot]
        if entry is None:
            return False
        self._slots[slot] = None
        entry.link.close()
        log.info("card removed from slot %d", slot)
        return True

    def _closed(self, slot: int, entry: _Inserted, reason: str) -> None:
        """From the link's thread: the connection ended without /remove.

        Takes no lock: remove() and insert() hold it while they join this very thread, so a
        card pulled (or vpcd gone) just as it is removed would deadlock both. Marking an entry
        that has meanwhile left its slot is harmless.
        """
        if reason == "removed":
            return
        entry.state = "pulled" if reason == "pulled" else "disconnected"
        log.info("slot %d card connection ended: %s", slot, reason)

    def _slot_status(self, slot: int) -> dict[str, Any]:
        entry = self._slots[slot]
        status: dict[str, Any] = {
            "slot": slot,
            "reader": self.reader_name(slot),
            "vpcd_port": self.vpcd_port + slot,
            "state": "empty" if entry is None else entry.state,
            "card": None,
        }
        if entry is None:
            return status
        request = entry.request
        card: dict[str, Any] = {
            "kind": request.kind,
            "protocol": request.protocol,
            "atr": entry.card.atr.hex().upper(),
            "apdus": entry.link.apdus,
            "pull_after_apdus": request.pull_after_apdus,
            "stall_after_apdus": request.stall_after_apdus,
            "stalled": entry.link.stalled.is_set(),
            "latency_ms": request.latency_ms,
            "mute": request.mute,
            "locked": request.locked,
            "inserted_at": entry.inserted_at.isoformat(),
        }
        if entry.citizen is not None and isinstance(entry.card, SscCard):
            card |= {
                "citizen_index": entry.citizen.index,
                "citizen_id": mask_citizen_id(entry.citizen.citizen_id),
                "name": mask_name(entry.citizen.name),
                "generation": entry.card.generation,
                "name_on_chip": "raw" if request.name_hex else (
                    "custom" if request.name is not None else "holder"
                ),
                "name_truncated": entry.card.profile.name_truncated,
            }
        status["card"] = card
        return status


def create_app(simulator: CardSimulator) -> FastAPI:
    app = FastAPI(
        title="Virtual social security card",
        summary="Insert, pull and remove virtual cards in the vpcd readers.",
        version="1",
    )
    install_problem_handlers(app)

    @app.get("/status")
    def get_status() -> dict[str, Any]:
        return simulator.status()

    @app.post("/insert")
    def insert(request: InsertRequest) -> dict[str, Any]:
        return simulator.insert(request)

    @app.post("/remove")
    def remove(request: RemoveRequest | None = Body(default=None)) -> dict[str, Any]:
        return simulator.remove((request or RemoveRequest()).slot)

    return app


def serve(
    *,
    vpcd_host: str = "127.0.0.1",
    vpcd_port: int = DEFAULT_VPCD_PORT,
    control_host: str = "127.0.0.1",
    control_port: int = DEFAULT_CONTROL_PORT,
    seed: int = 42,
    population: int = 5000,
) -> None:
    """Run the control service until interrupted; cards are removed on the way out."""
    import uvicorn

    people = Population(seed, population)
    people.citizen(0)  # builds the ID index now, so that the first insert answers at once
    simulator = CardSimulator(people, vpcd_host, vpcd_port)
    app = create_app(simulator)
    log.info(
        "virtual cards for vpcd %s:%d and %d; control on http://%s:%d",
        vpcd_host, vpcd_port, vpcd_port + 1, control_host, control_port,
    )
    config = uvicorn.Config(app, host=control_host, port=control_port, log_config=None)
    try:
        uvicorn.Server(config).run()
    finally:
        simulator.close()
