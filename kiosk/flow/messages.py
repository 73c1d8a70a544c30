"""Plain-language messages for every edge problem (and the keys of every other message).

The flow only picks a message *key*; kiosk/i18n holds the words (`<key>.title`, `<key>.body`).
Each way of identifying names its own messages (kiosk.flow.identify.card: `msg.card.*`).
"""

from __future__ import annotations

from enum import StrEnum

from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem


class Msg(StrEnum):
    # The edge and what stands behind it
    EDGE_UNREACHABLE = "msg.edge_unreachable"
    CENTRAL_UNAVAILABLE = "msg.central_unavailable"
    SERVICE_BUSY = "msg.service_busy"
    TRY_LATER = "msg.try_later"  # the retries above have run out
    CITIZEN_NOT_FOUND = "msg.citizen_not_found"
    CARD_LOST = "msg.card_lost"
    CARD_REPLACED = "msg.card_replaced"
    CARD_CANCELLED = "msg.card_cancelled"
    CARD_NOT_VALID = "msg.card_not_valid"
    CARD_BLOCKED = "msg.card_blocked"  # blacklisted
    CARD_DATA_INVALID = "msg.card_data_invalid"
    SESSION_EXPIRED = "msg.session_expired"
    DEVICE_NOT_AUTHORISED = "msg.device_not_authorised"
    # Out of service on the fleet's word (maintenance); the operator's reason is its detail.
    MAINTENANCE = "msg.maintenance"
    UNEXPECTED = "msg.unexpected"
    # Submissions (apply, card loss)
    DUPLICATE_APPLICATION = "msg.duplicate_application"
    OUTBOX_FULL = "msg.outbox_full"
    FORM_REFUSED = "msg.form_refused"  # the edge found the form invalid (422)
    # Certificates (issue 8): the edge cannot sign one now (no usable office certificate).
    CERTIFICATES_UNAVAILABLE = "msg.certificates_unavailable"


PROBLEM_MESSAGES: dict[str, Msg] = {
    codes.UNAUTHORIZED: Msg.DEVICE_NOT_AUTHORISED,
    codes.TOKEN_EXPIRED: Msg.DEVICE_NOT_AUTHORISED,  # out of service until staff provision it
    codes.TOO_MANY_REQUESTS: Msg.SERVICE_BUSY,  # retried after Retry-After, with the same key
    codes.BAD_REQUEST: Msg.UNEXPECTED,  # the kiosk's own fault: staff, not the citizen
    codes.UNSUPPORTED_MEDIA_TYPE: Msg.UNEXPECTED,
    codes.METHOD_NOT_ALLOWED: Msg.UNEXPECTED,
    codes.VALIDATION_ERROR: Msg.UNEXPECTED,
    codes.INVALID_CITIZEN_ID: Msg.CARD_DATA_INVALID,
    codes.IDEMPOTENCY_KEY_REQUIRED: Msg.UNEXPECTED,
    codes.IDEMPOTENCY_KEY_REUSED: Msg.UNEXPECTED,
    codes.IDEMPOTENCY_KEY_IN_FLIGHT: Msg.SERVICE_BUSY,
    codes.CITIZEN_NOT_FOUND: Msg.CITIZEN_NOT_FOUND,
    codes.CARD_NOT_VALID: Msg.CARD_NOT_VALID,
    codes.SESSION_NOT_FOUND: Msg.SESSION_EXPIRED,
    codes.CENTRAL_UNAVAILABLE: Msg.CENTRAL_UNAVAILABLE,
    codes.PAYLOAD_TOO_LARGE: Msg.UNEXPECTED,
    codes.DUPLICATE_APPLICATION: Msg.DUPLICATE_APPLICATION,
    codes.OUTBOX_FULL: Msg.OUTBOX_FULL,
    "certificates-unavailable": Msg.CERTIFICATES_UNAVAILABLE,
}

# `card_status` of a card-not-valid problem; "unknown" (none of this person's cards) and any
# value added later get the general card-not-valid words.
CARD_STATUS_MESSAGES: dict[str, Msg] = {
    "reported-lost": Msg.CARD_LOST,
    "lost": Msg.CARD_LOST,
    "replaced": Msg.CARD_REPLACED,
    "cancelled": Msg.CARD_CANCELLED,
    "blacklisted": Msg.CARD_BLOCKED,
}


def message_for_problem(problem: EdgeProblem, *, submitting: bool = False) -> Msg:
    """`submitting`: the citizen typed what was sent, so a 422 is theirs to correct."""
    if problem.code == codes.CARD_NOT_VALID:
        return CARD_STATUS_MESSAGES.get(problem.card_status or "", Msg.CARD_NOT_VALID)
    if submitting and problem.code == codes.VALIDATION_ERROR:
        return Msg.FORM_REFUSED
    if problem.code in PROBLEM_MESSAGES:
        return PROBLEM_MESSAGES[problem.code]
    # Unknown codes: a server-side failure is worth retrying, anything else needs staff.
    return Msg.SERVICE_BUSY if problem.status >= 500 else Msg.UNEXPECTED
