"""A staff PIN reload / unblock as the kiosk asks the edge to authorise it (edge-api.md,
"Card PIN"): `POST /cards/pin-authorisations` with the card's one-time challenge and the staff
member's credential answers the 4-byte MAC the card checks.

The call is made by the card driver's worker, between the card's GET CHALLENGE and the reload,
so it has a total deadline of its own well inside the driver's (10 s for the whole operation).
It goes through the kiosk's one edge client (bounded answer, problem mapping, the device's
token). The staff code is in no repr and no log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import StringConstraints

from kiosk.edge.errors import TOO_MANY_REQUESTS, EdgeProblem, EdgeUnreachable
from kiosk.edge.models import _Answer

PATH = "/cards/pin-authorisations"
DEADLINE_S = 6.0  # the card driver gives the whole reload 10 s
STAFF_REFUSED = "staff-refused"
CENTRAL_UNAVAILABLE = "central-unavailable"

Operation = Literal["reload", "unblock"]
Mac = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{8}$")]


class PinAuthorisation(_Answer):
    mac: Mac


class PinAuthorisationPort(Protocol):
    def authorise_pin(self, operation: Operation, card_id_code: str, challenge: str,
                      staff_id: str, staff_code: str) -> bytes:
        """The MAC; raises EdgeProblem (`staff-refused`, ...) or EdgeUnreachable."""
        ...


class PinAuthorisationCalls:
    """PinAuthorisationPort over the kiosk's EdgeClient (its one request function)."""

    def __init__(self, edge: Any) -> None:
        self._edge = edge

    def authorise_pin(self, operation: Operation, card_id_code: str, challenge: str,
                      staff_id: str, staff_code: str) -> bytes:
        answer: PinAuthorisation = self._edge._call(
            "POST", PATH, PinAuthorisation, label=PATH, deadline_s=DEADLINE_S,
            json={"operation": operation, "card_id_code": card_id_code, "challenge": challenge,
                  "staff_id": staff_id, "staff_code": staff_code})
        return bytes.fromhex(answer.mac)


def pin_authorisation_port(edge: object) -> PinAuthorisationPort:
    """The edge port a journey's Call gets, as a PinAuthorisationPort."""
    if callable(getattr(edge, "authorise_pin", None)):
        return edge  # type: ignore[return-value]
    return PinAuthorisationCalls(edge)


class Refusal(StrEnum):
    """Why an authorisation was not given, in the words the kiosk shows."""

    STAFF_REFUSED = "staff-refused"  # unknown staff ID or a wrong staff code
    TOO_MANY = "too-many"  # too many refusals from this terminal or for this staff ID
    UNAVAILABLE = "unavailable"  # the edge or the central platform cannot be reached
    FAILED = "failed"  # anything else (a bug, an answer we could not use)


def refusal_of(error: BaseException) -> Refusal:
    if isinstance(error, EdgeUnreachable):
        return Refusal.UNAVAILABLE
    if isinstance(error, EdgeProblem):
        if error.code == STAFF_REFUSED:
            return Refusal.STAFF_REFUSED
        if error.code == TOO_MANY_REQUESTS:
            return Refusal.TOO_MANY
        if error.code == CENTRAL_UNAVAILABLE or error.status >= 500:
            return Refusal.UNAVAILABLE
    return Refusal.FAILED
