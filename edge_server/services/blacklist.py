"""The edge's list of cards it refuses offline (`card_block`), and the loop step that pulls
central's blacklist feed into it (central-api.md 1.5).

Two kinds of rows share the table, told apart by `source` and never colliding (different key
spaces of the keyed hash):
- `central-feed`: a card number's block as central's feed says (lost, cancelled,
  blacklisted); a `normal` change from the feed deletes the row;
- `local-loss-report`: a citizen's loss report taken by this edge (services/card_loss.py), by
  citizen, since the edge may not know the citizen's card numbers.

Card numbers are stored only as keyed hashes: the table says "this card is blocked" to whoever
holds the number, and nothing to whoever holds the database.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session, col, delete

from edge_server.central import CentralUnavailable, queries
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction, session_scope
from edge_server.models import CardBlock, SyncCursor

FEED = "card-blacklist"
CENTRAL_FEED = "central-feed"
LOCAL_LOSS_REPORT = "local-loss-report"
# More pages are waiting: the next pull starts this soon instead of an interval later.
MORE_DELAY_S = 1.0

log = logging.getLogger(__name__)


def card_key(ctx: EdgeContext, card_number: str) -> str:
    """The block key of a card number (upper-cased, as the card prints it)."""
    return ctx.cipher.citizen_key("card:" + card_number.strip().upper())


def citizen_block_key(ctx: EdgeContext, citizen_id: str) -> str:
    """The block key of a citizen's local loss report: all their cards."""
    return ctx.cipher.citizen_key("loss:" + citizen_id)


def block(ctx: EdgeContext, key: str) -> CardBlock | None:
    with session_scope(ctx.engine, write=False) as db:
        return db.get(CardBlock, key)


def lift(ctx: EdgeContext, key: str, source: str) -> None:
    """Delete a block, only if it still is of `source` (a feed row is never lifted locally)."""
    with session_scope(ctx.engine) as db:
        db.exec(delete(CardBlock).where(col(CardBlock.card_key) == key,
                                        col(CardBlock.source) == source))


def _cursor(ctx: EdgeContext) -> str | None:
    with session_scope(ctx.engine, write=False) as db:
        row = db.get(SyncCursor, FEED)
    return row.cursor if row is not None else None


def sync_step(ctx: EdgeContext) -> float | None:
    """Pull the feed's changes since the stored cursor, up to `blacklist_max_pages` pages.

    Each page is applied with its cursor in one transaction, so a crash repeats at most a
    page (applying a change twice is harmless). Returns a short delay when pages are left,
    None (the interval) otherwise, and also when central cannot answer: the blocks already
    held stay in force meanwhile.
    """
    settings = ctx.settings
    cursor = _cursor(ctx)
    for _ in range(settings.blacklist_max_pages):
        now = ctx.now()
        try:
            page = queries.query_blacklist(ctx.central, cursor, settings.blacklist_page_limit,
                                           now)
        except CentralUnavailable as exc:
            log.info("card blacklist not pulled: %s", exc)
            return None
        items, dropped = queries.blacklist_items(page, now)
        if dropped:
            log.warning("card blacklist: dropped %d malformed item(s) of a page", dropped)
        applied = run_in_transaction(
            ctx.engine, lambda db, p=page, i=items: _apply(ctx, db, i, p.next))
        log.info("card blacklist: %d change(s) applied", applied)
        cursor = page.next
        if not page.more:
            return None
    return MORE_DELAY_S


def _apply(ctx: EdgeContext, db: Session, items: list[queries.BlacklistItem],
           cursor: str) -> int:
    now = ctx.now()
    applied = 0
    for item in items:
        key = card_key(ctx, item.card_number)
        row = db.get(CardBlock, key)
        if row is not None and row.changed_at > item.changed_at:
            continue  # an older change than the one held (a page repeated after a crash)
        applied += 1
        if item.status == "normal":
            if row is not None:
                db.delete(row)
        elif row is None:
            db.add(CardBlock(card_key=key, status=item.status, source=CENTRAL_FEED,
                             changed_at=item.changed_at, updated_at=now))
        else:
            row.status, row.source = item.status, CENTRAL_FEED
            row.changed_at, row.updated_at = item.changed_at, now
            db.add(row)
        db.flush()  # a card twice in one page: the second sees the first
    stored = db.get(SyncCursor, FEED)
    if stored is None:
        db.add(SyncCursor(name=FEED, cursor=cursor, updated_at=now))
    else:
        stored.cursor, stored.updated_at = cursor, now
        db.add(stored)
    return applied


def feed_status(ctx: EdgeContext, card_number: str) -> tuple[str, dt.datetime] | None:
    """The feed's block of this card (status, central's time of the change), if any."""
    row = block(ctx, card_key(ctx, card_number))
    if row is None or row.source != CENTRAL_FEED:
        return None
    return row.status, row.changed_at
