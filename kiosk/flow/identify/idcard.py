"""Identifying with the resident ID card (二代身份证) on its reader, for citizens whose social
security card cannot be used here (left at home, lost, a third-generation card without PSAM).

The reader's text block becomes `Identified(Credential("idcard", {citizen_id, name,
valid_until}))`, the three fields the edge checks against central's record; the address, the
photo and the rest never leave the terminal. The card is read once and may be lifted again, so
the method holds no presence.

The ID-card driver (drivers/idcard, /tmp/team/api-idcard.md) publishes `IdCardRead(data)`,
`IdCardReadFailed(failure)` and `IdCardRemoved`; this module reads them by shape (the event's
class name and the fields the contract names), so the flow keeps no import of a driver package
a terminal may not ship. The driver has validated the text block already; it is checked again
here as data, since it becomes what the edge is asked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from common.citizen_id import InvalidCitizenId, parse
from common.clock import china_now
from drivers.base import HealthChanged, HealthState
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import Credential
from kiosk.flow.identify.base import Availability, Failed, Identified, Intent

IDCARD_FIELDS_SENT = ("citizen_id", "name", "valid_until")
LONG_TERM = "长期"  # a card valid for life says so instead of a date
MAX_NAME_CHARS = 30
DEVICE_KINDS = ("idcard_reader", "idcard", "id_card_reader")
READ_EVENTS = ("IdCardRead",)
FAILED_EVENTS = ("IdCardReadFailed", "IdCardFailed")


class IdCardMsg(StrEnum):
    UNREADABLE = "msg.idcard.unreadable"  # lift it and lay it down again
    INVALID = "msg.idcard.invalid"  # the text block is not a valid card's
    EXPIRED = "msg.idcard.expired"
    MISMATCH = "msg.idcard.mismatch"  # central's record names someone else
    UNSUPPORTED = "msg.idcard.unsupported"  # a residence permit, a foreigner's card


# drivers.idcard.interface.IdCardFailure values; any other is "try again".
FAILURE_MESSAGES: dict[str, IdCardMsg] = {
    "invalid-data": IdCardMsg.INVALID,
    "expired": IdCardMsg.EXPIRED,
    "unsupported-card": IdCardMsg.UNSUPPORTED,
}


ID_PROBLEMS: dict[str, IdCardMsg] = {
    codes.INVALID_CITIZEN_ID: IdCardMsg.INVALID,
    codes.IDCARD_EXPIRED: IdCardMsg.EXPIRED,
    codes.IDCARD_MISMATCH: IdCardMsg.MISMATCH,
}


def _valid_until(value: object) -> str | None:
    """The contract's form: "YYYY-MM-DD" or "长期"; None when it is neither."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or value in (LONG_TERM, "long-term"):
        return LONG_TERM
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y.%m.%d"):
            try:
                return dt.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
    return None


def idcard_credential(data: object, today: dt.date | None = None) -> Credential | IdCardMsg:
    """The credential from the reader's text block, or why it cannot be one."""
    citizen_id = getattr(data, "citizen_id", None) or getattr(data, "id_number", None)
    name = getattr(data, "name", None)
    valid = _valid_until(getattr(data, "valid_until", getattr(data, "valid_to", None)))
    if not isinstance(citizen_id, str) or not isinstance(name, str) or valid is None:
        return IdCardMsg.INVALID
    name = name.strip()
    try:
        parse(citizen_id)
    except InvalidCitizenId:
        return IdCardMsg.INVALID
    if not 0 < len(name) <= MAX_NAME_CHARS:
        return IdCardMsg.INVALID
    if valid != LONG_TERM and today is not None and dt.date.fromisoformat(valid) < today:
        return IdCardMsg.EXPIRED
    return Credential("idcard", {"citizen_id": citizen_id, "name": name, "valid_until": valid})


@dataclass(frozen=True)
class IdCardMethod:
    key: str = "idcard"
    holds_presence: bool = False

    def interpret(self, event: object) -> Intent | None:
        name = type(event).__name__
        if name in READ_EVENTS:
            # A card is valid through its last day, in China's calendar (as the driver reads it).
            credential = idcard_credential(getattr(event, "data", None), china_now().date())
            if isinstance(credential, IdCardMsg):
                return Failed(credential, outlives_token=True)
            return Identified(credential)
        if name in FAILED_EVENTS:
            failure = str(getattr(event, "failure", ""))
            return Failed(FAILURE_MESSAGES.get(failure, IdCardMsg.UNREADABLE),
                          outlives_token=True)
        if isinstance(event, HealthChanged) and event.kind in DEVICE_KINDS:
            return Availability(event.health.state is not HealthState.MISSING)
        return None

    def message_for_problem(self, problem: EdgeProblem) -> str | None:
        return ID_PROBLEMS.get(problem.code)
