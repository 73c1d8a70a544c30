"""The lost-card policy: loss reports (ID number + service PIN, no card: the 12333 practice),
their reversal (card + PIN), and the one answer to "may this card open a session".

A loss report goes through the outbox like any submission; central checks the PIN. While it is
on its way the edge blocks the citizen locally (a `local-loss-report` row of card_block, in the
enqueue's transaction), so the lost card cannot open a session even offline. The row stays in
force while the citizen's newest live loss item (report or reversal, refused ones left out) is:
- a report not yet sent: central does not know yet, the edge must refuse;
- a report sent: central knows, but a cached person answer may predate it, so the row still
  refuses until a fresh answer from central, newer than the sending, says otherwise (a
  reversal at a counter, say).
It is lifted once the report is refused (a wrong PIN must not block anyone's card) or a
reversal is sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Response
from sqlmodel import Session, col, select

from common import citizen_id as citizen_ids
from common.clock import iso_utc
from common.masking import mask_card_number, mask_citizen_id
from common.problem import Problem
from edge_server import audit, rate_limit
from edge_server.central import CentralPerson
from edge_server.context import EdgeContext
from edge_server.db import session_scope
from edge_server.idempotency import IdempotentRequest
from edge_server.models import CardBlock, OutboxItem
from edge_server.outbox import OutboxItemView
from edge_server.schemas import CardView, LossReportRequest, LossReversalRequest
from edge_server.services import blacklist, citizens, receipts
from edge_server.services import sessions as session_service
from edge_server.services.citizens import Fresh

REPORT = "card-loss-report"
REVERSAL = "card-loss-reversal"
_LIVE_ITEMS = 20  # newest loss items of a citizen looked at; more is not a real history

log = logging.getLogger(__name__)


def _parse_citizen_id(text: str) -> str:
    try:
        return citizen_ids.parse(text).value
    except citizen_ids.InvalidCitizenId as exc:
        # The reason never holds digits of the ID (common.citizen_id guarantees it).
        raise Problem(422, "invalid-citizen-id", "The citizen ID is not valid", str(exc)) from None


def _pin_limit(ctx: EdgeContext, device_id: str, citizen_id: str) -> None:
    rate_limit.take(ctx, rate_limit.pin_buckets(ctx, device_id, citizen_id), what="PIN")


# -- submissions ----------------------------------------------------------------------------
def report(ctx: EdgeContext, idem: IdempotentRequest, body: LossReportRequest) -> Response:
    """Queue a temporary loss report and block the citizen's cards locally meanwhile."""
    cid = _parse_citizen_id(body.citizen_id)
    key = blacklist.citizen_block_key(ctx, cid)

    def local_block(db: Session, item: OutboxItemView) -> None:
        now = ctx.now()
        row = db.get(CardBlock, key)
        if row is None:
            db.add(CardBlock(card_key=key, status="reported-lost",
                             source=blacklist.LOCAL_LOSS_REPORT, changed_at=now, updated_at=now))
        else:
            row.status, row.changed_at, row.updated_at = "reported-lost", now, now
            db.add(row)
        audit.append(db, at=now, device_id=idem.device_id, action="card.loss-reported",
                     masked_id=mask_citizen_id(cid), outcome=item.receipt_no)

    response = receipts.submit(
        ctx, idem, citizen_id=cid, kind=REPORT, payload={"citizen_id": cid, "pin": body.pin},
        also=local_block, before=lambda: _pin_limit(ctx, idem.device_id, cid),
    )
    log.info("loss report of %s on device %s", mask_citizen_id(cid), idem.device_id)
    return response


def reverse(ctx: EdgeContext, idem: IdempotentRequest, body: LossReversalRequest) -> Response:
    """Queue a reversal (解挂) with the card at the terminal; central checks card and PIN."""
    cid = _parse_citizen_id(body.card.citizen_id)
    payload: dict[str, Any] = {
        "citizen_id": cid, "card_number": body.card.card_number.strip().upper(),
        "card_id_code": body.card.card_id_code or "", "pin": body.pin,
    }

    def note(db: Session, item: OutboxItemView) -> None:
        audit.append(db, at=ctx.now(), device_id=idem.device_id, action="card.loss-reversed",
                     masked_id=mask_citizen_id(cid), outcome=item.receipt_no)

    response = receipts.submit(
        ctx, idem, citizen_id=cid, kind=REVERSAL, payload=payload, also=note,
        before=lambda: _pin_limit(ctx, idem.device_id, cid),
    )
    log.info("loss reversal for %s on device %s", mask_citizen_id(cid), idem.device_id)
    return response


# -- may this card open a session -----------------------------------------------------------
def _card_of(person: CentralPerson, card_number: str) -> str:
    """The presented card's status at central; `unknown` when it is none of this person's."""
    wanted = card_number.strip().upper()
    for card in person.cards:
        if card.card_number.strip().upper() == wanted:
            return card.status
    return "unknown"


def _local_block_in_force(ctx: EdgeContext, citizen_id: str, fresh: Fresh[CentralPerson],
                          central_says: str) -> bool:
    key = blacklist.citizen_block_key(ctx, citizen_id)
    row = blacklist.block(ctx, key)
    if row is None or row.source != blacklist.LOCAL_LOSS_REPORT:
        return False
    with session_scope(ctx.engine, write=False) as db:
        items = db.exec(
            select(OutboxItem.kind, OutboxItem.state, OutboxItem.sent_at)
            .where(col(OutboxItem.citizen_key) == ctx.cipher.citizen_key(citizen_id),
                   col(OutboxItem.kind).in_((REPORT, REVERSAL)),
                   col(OutboxItem.state) != "dead")
            .order_by(col(OutboxItem.seq).desc())
            .limit(_LIVE_ITEMS)
        ).all()
    for kind, state, sent_at in items:
        if kind == REVERSAL:
            if state == "sent":
                break  # reversed at central: the block has done its work
            continue  # a reversal on its way is not checked yet: the card stays blocked
        if state != "sent":
            return True
        # Sent: central has recorded it. Only a fresh answer from after the sending may say
        # the card is usable again (reversed elsewhere).
        return not (not fresh.stale and central_says == "normal" and sent_at is not None
                    and fresh.as_of > sent_at)
    blacklist.lift(ctx, key, blacklist.LOCAL_LOSS_REPORT)
    log.info("local loss block of %s lifted", mask_citizen_id(citizen_id))
    return False


def card_status(ctx: EdgeContext, citizen_id: str, card_number: str,
                fresh: Fresh[CentralPerson]) -> str:
    """The status the edge gives the card: central's (fresh or cached), unless a block of
    the feed or a local loss report says otherwise. `normal` is the only usable one."""
    central_says = _card_of(fresh.value, card_number)
    if central_says != "normal":
        return central_says
    fed = blacklist.feed_status(ctx, card_number)
    # A fresh answer newer than the feed's change wins (reversed since the last pull); a cached
    # one never does: it may predate the change.
    if fed is not None and (fresh.stale or fresh.as_of <= fed[1]):
        return fed[0]
    if _local_block_in_force(ctx, citizen_id, fresh, central_says):
        return "reported-lost"
    return "normal"


def card(ctx: EdgeContext, device_id: str, session_id: str) -> CardView:
    """The status of the card the session was opened with."""
    session = session_service.live_session(ctx, device_id, session_id)
    fresh = citizens.person(ctx, session.citizen_id)
    number = session.card_number
    status = card_status(ctx, session.citizen_id, number, fresh) if number else "unknown"
    audit.append_view(ctx, device_id=device_id, action="card.viewed", session_id=session_id,
                      masked_id=mask_citizen_id(session.citizen_id), outcome=status)
    return CardView(card_number_masked=mask_card_number(number) if number else "",
                    status=status,  # type: ignore[arg-type]
                    as_of=iso_utc(fresh.as_of), stale=fresh.stale)
