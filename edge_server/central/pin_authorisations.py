"""The issuer's key centre: the MAC of a staff PIN reload or unblock on one card
(docs/contracts/central-api.md, "Key centre"), through `CentralClient.call`.

The answer is 4 bytes as 8 hex digits and a time; anything else is a `BadAnswer`. A refused
staff credential is `StaffRefused`; every other failure is `CentralUnavailable`. Nothing here
is retried or queued: the MAC is good only for the card's current challenge.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from edge_server.central.client import PIN_AUTHORISATIONS, CentralClient
from edge_server.central.errors import BadAnswer
from edge_server.central.validation import MAX_CLOCK_SKEW

Operation = Literal["reload", "unblock"]
Mac = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{8}$")]


class PinAuthorisationAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    as_of: AwareDatetime | None = None
    mac: Mac


def _check(answer: PinAuthorisationAnswer, now: dt.datetime) -> PinAuthorisationAnswer:
    if answer.as_of is not None and abs(answer.as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from now")
    return answer


def authorise_pin(client: CentralClient, *, operation: Operation, card_id_code: str,
                  challenge: str, staff_id: str, staff_code: str,
                  now: dt.datetime) -> bytes:
    """The 4-byte MAC, within the client's total deadline. Raises StaffRefused or
    CentralUnavailable (BadAnswer included)."""
    answer = client.call(
        PIN_AUTHORISATIONS,
        {"operation": operation, "card_id_code": card_id_code.upper(),
         "challenge": challenge.upper(), "staff_id": staff_id, "staff_code": staff_code},
        PinAuthorisationAnswer, lambda a: _check(a, now),
    )
    return bytes.fromhex(answer.mac)
