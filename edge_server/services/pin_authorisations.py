"""Staff PIN reload / unblock at a terminal: the card's challenge relayed to the issuer's key
centre with the staff member's credential, and its MAC back (edge-api.md, "Card PIN").

Nothing is queued: the MAC is good only for the challenge the card gave a moment ago, so central
down is `503 central-unavailable` at once and the kiosk says so. The staff code is six digits:
refusals (not successes) are rate-limited per device and per staff ID, like the service PIN,
so a terminal cannot be used to guess a code. Every answer is audited with the staff ID and
the masked card identification code; the code is never logged or stored.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import Session

from common.masking import mask_card_number
from common.problem import Problem
from edge_server import audit, rate_limit
from edge_server.central import CentralUnavailable
from edge_server.central.errors import StaffRefused
from edge_server.central.pin_authorisations import authorise_pin
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction

ACTION = "card.pin-authorisation"
log = logging.getLogger(__name__)

StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,16}$", max_length=16)]
StaffCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$", max_length=12)]


class PinAuthorisationRequest(BaseModel):
    """What the card asked to be signed (its id and one-time challenge) and who asks."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["reload", "unblock"]
    card_id_code: str = Field(pattern=r"^[0-9A-Fa-f]{32}$", max_length=32,
                              description="EF05 tag 01 of the card in the reader (32 hex).")
    challenge: str = Field(pattern=r"^[0-9A-Fa-f]{16}$", max_length=16,
                           description="The card's GET CHALLENGE answer (16 hex).")
    staff_id: StaffId
    staff_code: StaffCode = Field(repr=False, description="Never stored, never logged.")


class PinAuthorisationView(BaseModel):
    mac: str = Field(pattern=r"^[0-9A-F]{8}$",
                     description="The 4-byte MAC the card checks, for this challenge only.")


def staff_buckets(ctx: EdgeContext, device_id: str,
                  staff_id: str) -> tuple[rate_limit.Bucket, rate_limit.Bucket]:
    """Refusals per staff ID (whichever terminal asks) and per terminal (whoever it names), at
    the service PIN's rates: a staff code has as many values as that PIN."""
    s = ctx.settings
    return (
        rate_limit.Bucket(f"staff:id:{staff_id}", s.pin_citizen_burst, s.pin_citizen_per_s),
        rate_limit.Bucket(f"staff:device:{device_id}", s.pin_device_burst, s.pin_device_per_s),
    )


def _audit(ctx: EdgeContext, device_id: str, body: PinAuthorisationRequest,
           outcome: str) -> None:
    now = ctx.now()

    def work(db: Session) -> None:
        audit.append(db, at=now, device_id=device_id, action=ACTION,
                     masked_id=mask_card_number(body.card_id_code.upper()),
                     outcome=f"{body.operation} {outcome} {body.staff_id}")

    run_in_transaction(ctx.engine, work)


def authorise(ctx: EdgeContext, device_id: str,
              body: PinAuthorisationRequest) -> PinAuthorisationView:
    buckets = staff_buckets(ctx, device_id, body.staff_id)
    # Cost 0: a success costs nothing; a bucket that refusals emptied answers 429.
    rate_limit.take(ctx, buckets, cost=0.0, what="staff authorisation")
    masked = mask_card_number(body.card_id_code.upper())
    try:
        mac = authorise_pin(ctx.central, operation=body.operation,
                            card_id_code=body.card_id_code, challenge=body.challenge,
                            staff_id=body.staff_id, staff_code=body.staff_code, now=ctx.now())
    except StaffRefused:
        rate_limit.charge(ctx, buckets, 1.0)
        _audit(ctx, device_id, body, "staff-refused")
        log.info("PIN %s for card %s on %s: staff %s refused", body.operation, masked,
                 device_id, body.staff_id)
        raise Problem(403, "staff-refused", "The staff credential is not accepted") from None
    except CentralUnavailable as exc:
        _audit(ctx, device_id, body, "central-unavailable")
        log.warning("PIN %s for card %s on %s: central unavailable (%s)", body.operation,
                    masked, device_id, exc)
        raise Problem(503, "central-unavailable", "The central platform cannot be reached",
                      retry_after=ctx.settings.central_retry_after_s) from None
    _audit(ctx, device_id, body, "authorised")
    log.info("PIN %s for card %s on %s authorised by staff %s", body.operation, masked,
             device_id, body.staff_id)
    return PinAuthorisationView(mac=mac.hex().upper())
