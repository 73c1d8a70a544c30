"""The relay: sends the outbox to central in `seq` order, exactly once as far as central can
tell (every resend carries the same submission key).

One batch = one claim transaction, one call, one transaction applying every result:
1. claim: items whose lease ran out (their sender died) go back to pending; then the head of
   the queue (oldest `seq`, up to `outbox_batch_size`) is leased (`sending`). The head decides:
   if it is not due yet (backing off) or an older batch is in flight, nothing behind it goes,
   so order holds per terminal and per citizen. Claims take turns (SQLite: BEGIN IMMEDIATE;
   PostgreSQL: an advisory lock), so edges sharing a database send one batch at a time.
2. call: whole-call failure (down, 5xx, timeout, a bad envelope) means nothing is known: the
   items go back to pending, due after a backoff with jitter.
3. apply: recorded/duplicate -> sent; refused/conflict -> dead (a dead letter, its claim
   released); an item without a valid result stays pending (counted as a bad answer).
   A payload holding a PIN is wiped once final.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, bindparam, case, delete, text, update
from sqlmodel import Session, col, select

from common.backoff import Backoff
from edge_server import audit
from edge_server.central.errors import CentralUnavailable
from edge_server.central.submissions import Delivered, Submission, submit
from edge_server.context import EdgeContext
from edge_server.db import session_scope
from edge_server.models import ClaimGuard, OutboxItem
from edge_server.outbox.runtime import runtime
from edge_server.outbox.store import (
    DEAD,
    PENDING,
    SENDING,
    SENT,
    holds_pin,
    masked,
    open_payload,
    recent_stats,
)

log = logging.getLogger(__name__)

MAX_REASON = 500
STATS_EVERY_S = 1.0
CLAIM_LOCK = 0x68727373_6F757462  # "hrssoutb": the PostgreSQL advisory lock of claims
_TABLE: Any = OutboxItem.__table__  # type: ignore[attr-defined]


@dataclass
class _Claimed:
    item: OutboxItem
    payload: dict[str, Any] | None  # None: could not be opened (wrong key: stays for operators)


@dataclass
class RelayState:
    """Per relay: consecutive failures, for the backoff."""

    failures: int = 0
    backoff: Backoff = field(default_factory=Backoff)


def _state(ctx: EdgeContext) -> RelayState:
    rt = runtime(ctx)
    found: RelayState | None = rt.relay_state
    if found is None:
        found = RelayState(backoff=Backoff(
            initial_s=min(ctx.settings.outbox_backoff_initial_s, ctx.settings.outbox_backoff_max_s),
            max_s=ctx.settings.outbox_backoff_max_s,
        ))
        rt.relay_state = found
    return found


def claim(ctx: EdgeContext) -> tuple[list[_Claimed], float | None]:
    """Lease the due head of the queue; also returns how long until the head is due (None:
    the queue is empty; 0: items were claimed)."""
    now = ctx.now()
    lease_until = now + dt.timedelta(seconds=ctx.settings.outbox_lease_s)
    with session_scope(ctx.engine) as db:
        if db.get_bind().dialect.name == "postgresql":
            # Claims take turns across edges sharing the database (SQLite: BEGIN IMMEDIATE
            # does this). Not SKIP LOCKED: an edge skipping the head another one is claiming
            # would send later items first, out of order for their citizen.
            db.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=CLAIM_LOCK))
        db.exec(  # type: ignore[call-overload]
            update(OutboxItem)
            .where(col(OutboxItem.state) == SENDING, col(OutboxItem.lease_until) < now)
            .values(state=PENDING, lease_until=None)
        )
        # A live lease on an older item (a batch in flight) holds everything behind it.
        in_flight = db.exec(
            select(OutboxItem.seq, OutboxItem.lease_until)
            .where(col(OutboxItem.state) == SENDING).order_by(col(OutboxItem.seq)).limit(1)
        ).first()
        head = db.exec(
            select(OutboxItem).where(col(OutboxItem.state) == PENDING)
            .order_by(col(OutboxItem.seq)).limit(ctx.settings.outbox_batch_size)
        ).all()
        if not head:
            return [], None
        due = []
        for item in head:
            if item.next_attempt_at > now or (
                in_flight is not None and (item.seq or 0) > in_flight[0]
            ):
                break
            due.append(item)
        if not due:
            if in_flight is not None and in_flight[1] is not None:
                return [], (in_flight[1] - now).total_seconds()
            return [], (head[0].next_attempt_at - now).total_seconds()
        db.exec(  # type: ignore[call-overload]
            update(OutboxItem)
            .where(col(OutboxItem.seq).in_([item.seq for item in due]))
            .values(state=SENDING, lease_until=lease_until,
                    attempts=col(OutboxItem.attempts) + 1)
            # The loaded items are not used after this: no need to evaluate the change on them.
            .execution_options(synchronize_session=False)
        )
        claimed = []
        for item in due:
            try:
                payload = open_payload(ctx, item)
            except Exception:  # a payload we cannot open is never sent, never dropped
                log.exception("outbox item %s: the payload does not open", item.receipt_no)
                payload = None
            claimed.append(_Claimed(item, payload))
    return claimed, 0.0


def step(ctx: EdgeContext) -> float:
    """One batch; returns the delay before the next step (0: more may be waiting)."""
    relay = _state(ctx)
    if runtime(ctx).recovered.is_set():
        runtime(ctx).recovered.clear()
        _stop_backing_off(ctx, relay)
    recent_stats(ctx, STATS_EVERY_S)  # keeps /health's figures current without a query there
    claimed, wait = claim(ctx)
    if not claimed:
        if wait is None:
            return ctx.settings.outbox_poll_interval_s
        return min(max(wait, 0.0), ctx.settings.outbox_poll_interval_s)
    sendable = [c for c in claimed if c.payload is not None]
    unopened = [c.item for c in claimed if c.payload is None]
    if unopened:
        # Never sent, never dropped, and not left at the head to block the queue: a dead
        # letter operators see (the data key was replaced, or the row was tampered with).
        _apply(ctx, [_Claimed(item, None) for item in unopened], {
            item.submission_key: Delivered(item.submission_key, "refused", None, {
                "code": "edge-payload-unreadable", "findings": [],
                "message": "The edge cannot open this submission (data key or row changed)"})
            for item in unopened
        }, retry_delay_s=0.0)
    if not sendable:
        return 0.0
    items = [
        Submission(c.item.submission_key, c.item.kind, c.item.device_id, c.item.created_at,
                   c.payload or {})
        for c in sendable
    ]
    try:
        answer = submit(ctx.central, items, ctx.now())
    except CentralUnavailable as exc:
        relay.failures += 1
        delay = relay.backoff.delay(relay.failures)
        log.warning("outbox: central did not take %d submissions (%s); again in %.1f s",
                    len(items), exc, delay)
        _release(ctx, [c.item for c in sendable], delay_s=delay)
        return delay
    delay = 0.0
    if answer.bad:
        runtime(ctx).bad_results_total.add(answer.bad)
        relay.failures += 1
        delay = relay.backoff.delay(relay.failures)
    else:
        relay.failures = 0
    _apply(ctx, sendable, answer.delivered, retry_delay_s=delay)
    return delay


def _stop_backing_off(ctx: EdgeContext, relay: RelayState) -> None:
    """Central answers again: what waits out a backoff is due now, not after the backoff's
    remaining minute."""
    relay.failures = 0
    now = ctx.now()
    with session_scope(ctx.engine) as db:
        db.exec(  # type: ignore[call-overload]
            update(OutboxItem)
            .where(col(OutboxItem.state) == PENDING, col(OutboxItem.next_attempt_at) > now)
            .values(next_attempt_at=now)
        )


def _release(ctx: EdgeContext, items: list[OutboxItem], *, delay_s: float) -> None:
    """Back to pending, due after `delay_s`: nothing is known about them."""
    due = ctx.now() + dt.timedelta(seconds=delay_s)
    with session_scope(ctx.engine) as db:
        db.exec(  # type: ignore[call-overload]
            update(OutboxItem)
            .where(col(OutboxItem.seq).in_([item.seq for item in items]),
                   col(OutboxItem.state) == SENDING)
            .values(state=PENDING, lease_until=None, next_attempt_at=due)
        )


def _apply(
    ctx: EdgeContext,
    claimed: list[_Claimed],
    delivered: dict[str, Delivered],
    *,
    retry_delay_s: float,
) -> None:
    now = ctx.now()
    rt = runtime(ctx)
    rows: list[dict[str, Any]] = []
    undelivered: list[OutboxItem] = []
    sent_seqs: list[int] = []
    dead = 0
    # no_autoflush: each audit append re-reads the chain's head; without it every append would
    # flush the entries before it one by one (the head row stays current in the session).
    with session_scope(ctx.engine) as db, db.no_autoflush:
        for c in claimed:
            result = delivered.get(c.item.submission_key)
            if result is None:
                undelivered.append(c.item)
                continue
            payload = c.payload or {}
            row = _final_row(c.item, result, now, wipe=holds_pin(payload))
            rows.append(row)
            if result.sent:
                sent_seqs.append(c.item.seq or 0)
                continue
            dead += 1
            _release_claim(db, c.item, payload)
            log.warning("outbox: central refused %s (%s): a dead letter", c.item.receipt_no,
                        row["b_dead_code"])
            audit.append(db, at=now, device_id=c.item.device_id, action="outbox.dead",
                         masked_id=masked(payload.get("citizen_id")),
                         outcome=str(row["b_dead_code"])[:64])
        if sent_seqs:
            # One entry per batch: an entry per item costs more than the rest of the batch
            # (the drain target is 1,000/s); the items of the seq range hold each outcome.
            audit.append(db, at=now, device_id="edge", action="outbox.sent",
                         outcome=f"{len(sent_seqs)} seq {min(sent_seqs)}-{max(sent_seqs)}")
        sent = len(sent_seqs)
        if rows:
            db.connection().execute(_FINAL, rows)
        if undelivered:
            due = now + dt.timedelta(seconds=retry_delay_s)
            db.exec(  # type: ignore[call-overload]
                update(OutboxItem)
                .where(col(OutboxItem.seq).in_([item.seq for item in undelivered]),
                       col(OutboxItem.state) == SENDING)
                .values(state=PENDING, lease_until=None, next_attempt_at=due)
            )
    rt.sent_total.add(sent)
    rt.dead_total.add(dead)
    if rows:
        rt.notify_delivered()


# One executemany for the whole batch: the row's final state, its payload wiped when asked.
# Guarded by state: an item another sender finalised meanwhile (its lease ran out) keeps that.
_FINAL = (
    update(_TABLE)
    .where(_TABLE.c.seq == bindparam("b_seq"), _TABLE.c.state != SENT, _TABLE.c.state != DEAD)
    .values(
        state=bindparam("b_state"),
        sent_at=bindparam("b_sent_at"),
        outcome=bindparam("b_outcome"),
        result=bindparam("b_result"),
        dead_code=bindparam("b_dead_code"),
        dead_reason=bindparam("b_dead_reason"),
        lease_until=None,
        payload=case((bindparam("b_wipe", type_=Boolean), b""), else_=_TABLE.c.payload),
        nonce=case((bindparam("b_wipe_n", type_=Boolean), b""), else_=_TABLE.c.nonce),
    )
)


def _final_row(
    item: OutboxItem, result: Delivered, now: dt.datetime, *, wipe: bool
) -> dict[str, Any]:
    refusal = result.refusal or {}
    return {
        "b_seq": item.seq,
        "b_state": SENT if result.sent else DEAD,
        "b_sent_at": now if result.sent else None,
        "b_outcome": result.outcome,
        "b_result": json.dumps(result.record if result.sent else refusal, ensure_ascii=False),
        "b_dead_code": None if result.sent else str(refusal.get("code", result.outcome))[:64],
        "b_dead_reason": None if result.sent else str(refusal.get("message", ""))[:MAX_REASON],
        "b_wipe": wipe,
        "b_wipe_n": wipe,
    }


def _release_claim(db: Session, item: OutboxItem, payload: dict[str, Any]) -> None:
    """A refused application frees its claim: a corrected one may claim it again."""
    if item.kind != "subsidy-application":
        return
    db.exec(  # type: ignore[call-overload]
        delete(ClaimGuard).where(
            col(ClaimGuard.citizen_key) == item.citizen_key,
            col(ClaimGuard.subsidy) == str(payload.get("subsidy", "")),
            col(ClaimGuard.period) == str(payload.get("period", "")),
            col(ClaimGuard.receipt_no) == item.receipt_no,
        )
    )
