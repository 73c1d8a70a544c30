"""Identifying with the electronic social security card (电子社保卡): a QR code on the phone.

The code is a short-lived, single-use token only the national platform can resolve: the kiosk
neither parses nor logs it. A scan becomes `Identified(Credential("qr", {"token": ...}))`; the
edge asks central whose it is. Nothing stays in a slot, so the method holds no presence: the
session ends by the citizen's END, the idle timeout, or the next citizen's scan. (A camera
scanner decodes only while the attract screen asks for the code, drivers/qr/camera.py, so its
scans arrive there only; a serial scanner's at any time.)

What the scanner hands over is checked as data first (the edge's contract: at most 512
characters of [A-Za-z0-9_-]): anything else was not an e-SSC code (a payment code, a URL) and
is explained as such without asking the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from drivers.base import HealthChanged, HealthState
from drivers.qr.interface import KIND as QR_KIND
from drivers.qr.interface import CodeScanned, ScanRejected, ScanRejection
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import Credential
from kiosk.flow.identify.base import Availability, Failed, Identified, Intent

MAX_TOKEN_CHARS = 512
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_CHARS}}}")


class QrMsg(StrEnum):
    """What the citizen is told (i18n `<key>.title`, `.body`)."""

    NOT_ECARD = "msg.qr.not_ecard"  # not an e-SSC code at all (a payment code, a web link)
    UNREADABLE = "msg.qr.unreadable"  # the scanner could not read it whole
    # (message keys, not secrets: S105)
    TOKEN_INVALID = "msg.qr.token_invalid"  # noqa: S105 the platform does not know it
    TOKEN_EXPIRED = "msg.qr.token_expired"  # noqa: S105 older than its minute: refresh it
    TOKEN_USED = "msg.qr.token_used"  # noqa: S105 already used once: refresh it
    TOKEN_OTHER_TERMINAL = "msg.qr.token_other_terminal"  # noqa: S105 for another terminal


# The edge's refusals of a token, by code (its statuses: 422, 410, 409, 403). `token-expired`
# is also the device's own 401, which the general messages handle (out of service).
TOKEN_PROBLEMS: dict[tuple[str, int], QrMsg] = {
    (codes.QR_TOKEN_INVALID, 422): QrMsg.TOKEN_INVALID,
    (codes.QR_TOKEN_EXPIRED, 410): QrMsg.TOKEN_EXPIRED,
    (codes.QR_TOKEN_USED, 409): QrMsg.TOKEN_USED,
    (codes.QR_TOKEN_OTHER_TERMINAL, 403): QrMsg.TOKEN_OTHER_TERMINAL,
}
_BY_CODE = {code: msg for (code, _status), msg in TOKEN_PROBLEMS.items()
            if code != codes.TOKEN_EXPIRED}


def token_of(payload: bytes) -> str | None:
    """The token a scan carries, or None when it cannot be one (checked as data)."""
    try:
        text = payload.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if _TOKEN.fullmatch(text) else None


def qr_credential(token: str) -> Credential:
    return Credential("qr", {"token": token})


@dataclass(frozen=True)
class QrMethod:
    key: str = "qr"
    holds_presence: bool = False

    def interpret(self, event: object) -> Intent | None:
        match event:
            case CodeScanned(payload=payload):
                token = token_of(payload)
                if token is None:
                    return Failed(QrMsg.NOT_ECARD, outlives_token=True)
                return Identified(qr_credential(token))
            case ScanRejected(rejection=rejection):
                message = (QrMsg.NOT_ECARD if rejection is ScanRejection.TOO_LARGE
                           else QrMsg.UNREADABLE)
                return Failed(message, outlives_token=True)
            case HealthChanged(kind=kind, health=health) if kind in (QR_KIND, "qr"):
                return Availability(health.state is not HealthState.MISSING)
            case _:
                return None

    def message_for_problem(self, problem: EdgeProblem) -> str | None:
        exact = TOKEN_PROBLEMS.get((problem.code, problem.status))
        if exact is not None:
            return exact
        # A status the contract did not name for a code it did: still the token's problem
        # (but never the device's 401, which puts the terminal out of service).
        return _BY_CODE.get(problem.code) if problem.status != 401 else None
