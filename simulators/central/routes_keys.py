"""`/central/v1/cards/pin-authorisations`: the issuer's key centre, which alone holds the cards'
PIN reload key (RLK), signing a staff PIN reload or unblock at a terminal.

The terminal reads the card's one-time challenge, the edge relays it here with the staff
member's credential, and the answer is the 4-byte MAC the card wants (simulators/card/keys.py,
docs/simulators/card.md "Keys"). The MAC covers the operation, the card and the challenge, not
the new PIN: the PIN never leaves the terminal. Same key set (`DEFAULT_LABEL`) as the virtual
cards, so a MAC from here is one a virtual card accepts.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from common.clock import iso_utc
from common.problem import Problem
from simulators.card import keys
from simulators.central import hostile
from simulators.central.deps import State
from simulators.central.routes_central import _PROBLEMS, contract_call

log = logging.getLogger(__name__)

router = APIRouter(prefix="/central/v1", tags=["central: key centre"])

# The card simulator's documented staff member (S0001), and one whose ID is digits only, as a
# terminal's digit keypad can type it. Demo values, documented, not secrets.
STAFF: dict[str, str] = {**keys.DEFAULT_STAFF, "10001": "135790"}
STAFF_ID_PATTERN = r"^[A-Za-z0-9]{1,16}$"
STAFF_CODE_PATTERN = r"^[0-9]{4,12}$"

StaffId = Annotated[str, StringConstraints(pattern=STAFF_ID_PATTERN)]
StaffCode = Annotated[str, StringConstraints(pattern=STAFF_CODE_PATTERN)]
CardIdCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{32}$")]
Challenge = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{16}$")]

_KEY_PROBLEMS = {
    401: _PROBLEMS[401], 403: {"description": "staff-refused"},
    422: {"description": "validation-error"}, 503: _PROBLEMS[503],
}
_centre = keys.KeyCentre(label=keys.DEFAULT_LABEL, staff=STAFF)


class PinAuthorisationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation: Literal["reload", "unblock"]
    card_id_code: CardIdCode
    challenge: Challenge
    staff_id: StaffId
    staff_code: StaffCode


class PinAuthorisationAnswer(BaseModel):
    as_of: str
    mac: str  # 8 hex, upper case


@router.post("/cards/pin-authorisations", dependencies=contract_call, responses=_KEY_PROBLEMS,
             response_model=PinAuthorisationAnswer)
def authorise_pin(query: PinAuthorisationQuery, state: State) -> Response:
    """The MAC for one RELOAD PIN / PIN UNBLOCK of one card, after its GET CHALLENGE."""
    try:
        mac = _centre.authorise(query.operation, query.card_id_code, query.challenge,
                                query.staff_id, query.staff_code)
    except keys.ReloadRefused:
        # One code for unknown staff and a wrong code: which of the two is not told.
        log.info("PIN %s refused for staff %s", query.operation, query.staff_id)
        raise Problem(403, "staff-refused", "The staff credential is not accepted") from None
    log.info("PIN %s authorised by staff %s", query.operation, query.staff_id)
    answer = PinAuthorisationAnswer(as_of=iso_utc(state.now()), mac=mac.hex().upper())
    return hostile.respond(state.faults.get(), answer)
