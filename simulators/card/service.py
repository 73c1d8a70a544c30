"""The virtual card service: two reader slots, driven over HTTP.

Slot 0 is vpcd's reader "Virtual PCD 00 00" (vpcd port P) and slot 1 is "Virtual PCD 00 01"
(port P + 1), the terminal's SAM slot where the PSAM goes. A slot holds no connection until a
card is inserted: the card connects to vpcd on insert and disconnects on remove, which is what
pcscd sees as a card going in and out.

    GET  /status            slots, their cards (masked) and the population
    POST /insert            {citizen_index | citizen_id, generation?, protocol?, pin?,
                             pin_tries?, keys?, pull_after_apdus?, stall_after_apdus?,
                             latency_ms?, mute?, locked?, name? | name_hex?, kind?, slot?};
                             kind "psam" puts a PSAM in (slot 1 by default for it)
    POST /remove            {slot?}
    POST /pin               {slot?, pin?, tries?}: set the PIN / tries left (0 locks it)
    POST /authorise-reload  {operation, card_id_code, challenge, staff_id, staff_code}: the
                            stand-in issuer's MAC for a staff PIN reload / unblock

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
from simulators.card import keys
from simulators.card.applet import PIN_TRIES, ForeignCard, SscCard, VirtualCard
from simulators.card.psam import PsamCard
from simulators.card.vpcd_link import VpcdLink
from simulators.central.population import Citizen, Population
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

SLOTS = 2
SAM_SLOT = 1  # "Virtual PCD 00 01": where a PSAM goes unless told otherwise
FOREIGN_KEYS = "foreign"  # the key set of another issuer: authentication with our PSAM fails
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
    kind: Literal["ssc", "non-ssc", "psam"] = Field(
        default="ssc", description="'non-ssc': a card without the social security application;"
        " 'psam': the terminal's PSAM (goes into the SAM slot, 1, unless `slot` says otherwise).",
    )
    pin: str | None = Field(
        default=None, pattern=r"^[0-9]{4,12}$", description="The card's PIN (default 123456)."
    )
    pin_tries: int | None = Field(
        default=None, ge=0, le=PIN_TRIES, description="Tries left; 0: the PIN is locked (6983).",
    )
    keys: Literal["good", "foreign"] = Field(
        default="good",
        description="'foreign': keys of another issuer (a card or PSAM that fails"
        " authentication with ours).",
    )
    slot: int | None = Field(default=None, ge=0, lt=SLOTS, description="0 by default; PSAM 1.")

    @property
    def target_slot(self) -> int:
        if self.slot is not None:
            return self.slot
        return SAM_SLOT if self.kind == "psam" else 0

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


class PinRequest(BaseModel):
    slot: int = Field(default=0, ge=0, lt=SLOTS)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,12}$")
    tries: int | None = Field(default=None, ge=0, le=PIN_TRIES, description="0 locks the PIN.")


class ReloadAuthorisationRequest(BaseModel):
    operation: Literal["reload", "unblock"]
    card_id_code: str = Field(pattern=r"^[0-9A-Fa-f]{32}$")
    challenge: str = Field(pattern=r"^[0-9A-Fa-f]{16}$")
    staff_id: str = Field(min_length=1, max_length=32)
    staff_code: str = Field(min_length=1, max_length=32)


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
        self.key_centre = keys.KeyCentre()

    def reader_name(self, slot: int) -> str:
        return f"Virtual PCD 00 {slot:02d}"

    # -- actions ----------------------------------------------------------------------------------
    def insert(self, request: InsertRequest) -> dict[str, Any]:
        citizen = self._citizen(request) if request.kind == "ssc" else None
        label = FOREIGN_KEYS if request.keys == "foreign" else keys.DEFAULT_LABEL
        card: VirtualCard
        if citizen is not None:
            card = SscCard.from_citizen(
                citizen, generation=request.generation, protocol=request.protocol,
                name=request.name, locked=request.locked,
                raw_name=bytes.fromhex(request.name_hex) if request.name_hex else None,
                keys_label=label,
            )
            card.set_pin(pin=request.pin, tries=request.pin_tries)
        elif request.kind == "psam":
            card = PsamCard(protocol=request.protocol, keys_label=label)
        else:
            card = ForeignCard(protocol=request.protocol)
        slot = request.target_slot
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

    def set_pin(self, request: PinRequest) -> dict[str, Any]:
        with self._lock:
            entry = self._slots[request.slot]
            if entry is None or not isinstance(entry.card, SscCard):
                raise Problem(
                    409, "no-card", "No social security card in that slot",
                    detail=f"slot {request.slot} holds no social security card",
                )
            entry.card.set_pin(pin=request.pin, tries=request.tries)
            log.info("slot %d: PIN %s, tries left %d", request.slot,
                     "changed" if request.pin else "kept", entry.card.pin_tries)
            return self._slot_status(request.slot)

    def authorise_reload(self, request: ReloadAuthorisationRequest) -> dict[str, Any]:
        try:
            mac = self.key_centre.authorise(
                request.operation, request.card_id_code, request.challenge,
                request.staff_id, request.staff_code,
            )
        except keys.ReloadRefused as exc:
            raise Problem(403, "reload-refused", "Reload not authorised", detail=str(exc)) from exc
        log.info("PIN %s authorised by staff %s", request.operation, request.staff_id)
        return {"mac": mac.hex().upper()}

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
            "keys": request.keys,
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
                "pin_tries": entry.card.pin_tries,  # never the PIN
                "pin_locked": entry.card.pin_tries == 0,
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

    @app.post("/pin")
    def set_pin(request: PinRequest) -> dict[str, Any]:
        return simulator.set_pin(request)

    @app.post("/authorise-reload")
    def authorise_reload(request: ReloadAuthorisationRequest) -> dict[str, Any]:
        return simulator.authorise_reload(request)

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
