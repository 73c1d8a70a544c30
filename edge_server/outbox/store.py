"""The outbox's rows: enqueue (in the caller's transaction), views, what operators see, and the
retry of a dead letter after correction.

An item is committed with the caller's own writes (the idempotency record of the kiosk's
request), so a receipt exists only for a durable item, and a kiosk's retry with the same key
finds the same item. Personal data stays sealed (`payload`); what a view shows is the central
record or refusal, which holds masks at most.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from common.clock import to_china
from common.masking import mask_citizen_id
from edge_server import audit
from edge_server.central.submissions import KINDS
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed
from edge_server.db import session_scope
from edge_server.models import ClaimGuard, OutboxItem
from edge_server.outbox.errors import DuplicateClaim, NotRetryable, OutboxFull
from edge_server.outbox.runtime import runtime

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
UNSENT = (PENDING, SENDING)
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_LISTED = 200
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VIEW_STATE = {PENDING: "queued", SENDING: "queued", SENT: "sent", DEAD: "refused"}


@dataclass(frozen=True)
class OutboxItemView:
    receipt_no: str
    kind: str
    state: str  # queued | sent | refused
    created_at: dt.datetime
    sent_at: dt.datetime | None
    outcome: str | None
    record: dict[str, Any] | None
    refusal_code: str | None
    refusal_message: str | None
    findings: list[dict[str, Any]] = field(default_factory=list)


def new_receipt_no(now: dt.datetime) -> str:
    """`R` + the China date + 10 random Crockford base32 characters (50 bits: unguessable, so
    any device of the hall may look a receipt up by its number)."""
    random = "".join(secrets.choice(_CROCKFORD) for _ in range(10))
    return f"R{to_china(now):%Y%m%d}{random}"


def new_submission_key() -> str:
    return f"sub_{uuid.uuid4().hex}"


def _aad(receipt_no: str) -> str:
    # Binds the sealed payload to its row: a ciphertext copied into another row does not open.
    return f"outbox_item:{receipt_no}"


def open_payload(ctx: EdgeContext, item: OutboxItem) -> dict[str, Any] | None:
    """The item's central payload, or None once wiped."""
    if not item.payload:
        return None
    value = ctx.cipher.open_json(Sealed(item.key_id, item.nonce, item.payload),
                                 _aad(item.receipt_no))
    return value if isinstance(value, dict) else None


def holds_pin(payload: dict[str, Any]) -> bool:
    return "pin" in payload


def masked(citizen_id: object) -> str | None:
    return mask_citizen_id(citizen_id)[:32] if isinstance(citizen_id, str) else None


def view(item: OutboxItem) -> OutboxItemView:
    result: Any = None
    if item.result:
        try:
            result = json.loads(item.result)
        except ValueError:
            result = None
    result = result if isinstance(result, dict) else None
    findings: list[dict[str, Any]] = []
    if item.state == DEAD and result is not None:
        raw = result.get("findings")
        findings = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    return OutboxItemView(
        receipt_no=item.receipt_no,
        kind=item.kind,
        state=_VIEW_STATE.get(item.state, "queued"),
        created_at=item.created_at,
        sent_at=item.sent_at,
        outcome=item.outcome,
        record=result if item.state == SENT else None,
        refusal_code=item.dead_code,
        refusal_message=item.dead_reason,
        findings=findings,
    )


def unsent_count(db: Session) -> int:
    return int(db.exec(
        select(func.count()).select_from(OutboxItem).where(col(OutboxItem.state).in_(UNSENT))
    ).one())


def enqueue(
    ctx: EdgeContext,
    db: Session,
    *,
    device_id: str,
    idempotency_key: str,
    citizen_id: str,
    kind: str,
    payload: dict[str, Any],
    claim: tuple[str, str] | None = None,
    retry_of: str | None = None,
) -> OutboxItemView:
    """Add a submission to `db`'s transaction (the caller commits); see the module doc.

    Returns the existing item for a (device, key) seen before. Raises OutboxFull at the bound
    and DuplicateClaim when `claim` (subsidy, period) has an application already.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown submission kind {kind!r}")
    if not (0 < len(device_id) <= 64 and 0 < len(idempotency_key) <= 128 and citizen_id):
        raise ValueError("device_id, idempotency_key and citizen_id are required and bounded")
    existing = db.exec(select(OutboxItem).where(
        col(OutboxItem.device_id) == device_id,
        col(OutboxItem.idempotency_key) == idempotency_key,
    )).first()
    if existing is not None:
        return view(existing)
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if len(plain) > MAX_PAYLOAD_BYTES:
        raise ValueError("submission payload too large")
    state = runtime(ctx)
    if unsent_count(db) >= ctx.settings.outbox_max_pending:
        state.full_total.add()
        # The alarm operators watch for (and edge_outbox_full_total on /metrics).
        log.error("ALARM outbox full: %d unsent submissions; refusing new ones until central "
                  "takes them", ctx.settings.outbox_max_pending)
        raise OutboxFull()
    now = ctx.now()
    receipt_no = new_receipt_no(now)
    citizen_key = ctx.cipher.citizen_key(citizen_id)
    if claim is not None:
        _take_claim(db, citizen_key, claim, receipt_no, now)
    sealed = ctx.cipher.seal_json(payload, _aad(receipt_no))
    item = OutboxItem(
        receipt_no=receipt_no, submission_key=new_submission_key(), device_id=device_id,
        idempotency_key=idempotency_key, citizen_key=citizen_key, kind=kind,
        key_id=sealed.key_id, nonce=sealed.nonce, payload=sealed.ciphertext, state=PENDING,
        attempts=0, next_attempt_at=now, created_at=now, retry_of=retry_of,
    )
    db.add(item)
    audit.append(db, at=now, device_id=device_id, action="outbox.enqueued",
                 masked_id=masked(citizen_id), outcome=kind)
    db.flush()
    # Wake the relay once the caller's transaction is durable (not before: it would find
    # nothing to send).
    event.listen(db, "after_commit", lambda _session: state.nudge.set(), once=True)
    return view(item)


def _take_claim(
    db: Session, citizen_key: str, claim: tuple[str, str], receipt_no: str, now: dt.datetime
) -> None:
    subsidy, period = claim
    key = (col(ClaimGuard.citizen_key) == citizen_key, col(ClaimGuard.subsidy) == subsidy,
           col(ClaimGuard.period) == period)
    held = db.exec(select(ClaimGuard.receipt_no).where(*key)).first()
    if held is not None:
        raise DuplicateClaim(held)
    try:
        # A savepoint: a concurrent kiosk's insert of the same claim fails here (primary key)
        # without aborting the caller's transaction (PostgreSQL would).
        with db.begin_nested():
            db.add(ClaimGuard(citizen_key=citizen_key, subsidy=subsidy, period=period,
                              receipt_no=receipt_no, created_at=now))
    except IntegrityError:
        winner = db.exec(select(ClaimGuard.receipt_no).where(*key)).first()
        raise DuplicateClaim(winner or "") from None


def item_view(ctx: EdgeContext, receipt_no: str) -> OutboxItemView | None:
    if not 0 < len(receipt_no) <= 32:
        return None
    with session_scope(ctx.engine, write=False) as db:
        item = db.exec(select(OutboxItem).where(col(OutboxItem.receipt_no) == receipt_no)).first()
        return None if item is None else view(item)


def pending_for_citizen(ctx: EdgeContext, citizen_id: str) -> list[OutboxItemView]:
    """This citizen's submissions not yet at central, oldest first (at most MAX_LISTED)."""
    with session_scope(ctx.engine, write=False) as db:
        items = db.exec(
            select(OutboxItem)
            .where(col(OutboxItem.citizen_key) == ctx.cipher.citizen_key(citizen_id),
                   col(OutboxItem.state).in_(UNSENT))
            .order_by(col(OutboxItem.seq))
            .limit(MAX_LISTED)
        ).all()
        return [view(item) for item in items]


# -- operators ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxStats:
    depth: int  # pending + sending
    oldest_pending_age_s: float | None
    dead_letters: int  # dead items without a retry
    sent: int
    full: bool


def _open_dead_letters() -> Any:
    retried = select(OutboxItem.retry_of).where(col(OutboxItem.retry_of).is_not(None))
    return col(OutboxItem.state) == DEAD, col(OutboxItem.receipt_no).not_in(retried)


def stats(ctx: EdgeContext) -> OutboxStats:
    with session_scope(ctx.engine, write=False) as db:
        counts = dict(db.exec(
            select(OutboxItem.state, func.count()).group_by(col(OutboxItem.state))
        ).all())
        oldest = db.exec(
            select(func.min(OutboxItem.created_at)).where(col(OutboxItem.state).in_(UNSENT))
        ).one()
        dead = int(db.exec(
            select(func.count()).select_from(OutboxItem).where(*_open_dead_letters())
        ).one())
    depth = int(counts.get(PENDING, 0)) + int(counts.get(SENDING, 0))
    age = None
    if oldest is not None:
        # min() over a UTC column comes back as the database stores it (naive on SQLite).
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        age = max((ctx.now() - oldest).total_seconds(), 0.0)
    found = OutboxStats(depth=depth, oldest_pending_age_s=age, dead_letters=dead,
                        sent=int(counts.get(SENT, 0)),
                        full=depth >= ctx.settings.outbox_max_pending)
    runtime(ctx).snapshot = (time.monotonic(), found)
    return found


def recent_stats(ctx: EdgeContext, max_age_s: float) -> OutboxStats:
    """The last stats if younger than `max_age_s` (the relay refreshes them), else fresh ones:
    /health answers from memory while the relay runs."""
    snapshot = runtime(ctx).snapshot
    if snapshot is not None and time.monotonic() - snapshot[0] < max_age_s:
        return snapshot[1]  # type: ignore[no-any-return]
    return stats(ctx)


@dataclass(frozen=True)
class DeadLetter:
    receipt_no: str
    kind: str
    device_id: str
    created_at: dt.datetime
    dead_code: str | None
    dead_reason: str | None
    findings: list[dict[str, Any]]
    retry_of: str | None
    retryable: bool  # False once the payload is wiped (it held a PIN)


def dead_letters(ctx: EdgeContext, limit: int = MAX_LISTED) -> list[DeadLetter]:
    """Refused items not retried yet, oldest first."""
    with session_scope(ctx.engine, write=False) as db:
        items = db.exec(
            select(OutboxItem).where(*_open_dead_letters()).order_by(col(OutboxItem.seq))
            .limit(max(1, min(limit, MAX_LISTED)))
        ).all()
        return [
            DeadLetter(
                receipt_no=item.receipt_no, kind=item.kind, device_id=item.device_id,
                created_at=item.created_at, dead_code=item.dead_code,
                dead_reason=item.dead_reason, findings=view(item).findings,
                retry_of=item.retry_of, retryable=bool(item.payload),
            )
            for item in items
        ]


def retry(
    ctx: EdgeContext,
    receipt_no: str,
    *,
    operator_key: str,
    form: dict[str, str] | None = None,
) -> OutboxItemView:
    """Requeue a copy of a dead letter with a new submission key (`retry_of` names the original),
    optionally with corrected application `form` fields. `operator_key` makes it idempotent:
    the same key returns the same copy. Raises NotRetryable (not-found, not-dead,
    already-retried, payload-wiped, not-a-form), OutboxFull, DuplicateClaim."""
    idempotency_key = f"retry:{operator_key}"[:128]
    with session_scope(ctx.engine) as db:
        item = db.exec(select(OutboxItem).where(col(OutboxItem.receipt_no) == receipt_no)).first()
        if item is None:
            raise NotRetryable("submission-not-found", "No submission has this receipt number")
        done = db.exec(select(OutboxItem).where(
            col(OutboxItem.device_id) == item.device_id,
            col(OutboxItem.idempotency_key) == idempotency_key,
        )).first()
        if done is not None:
            if done.retry_of != receipt_no:
                raise NotRetryable("idempotency-key-reused", "This key retried another item")
            return view(done)
        if item.state != DEAD:
            raise NotRetryable("not-a-dead-letter", "Only a refused submission is retried")
        again = db.exec(select(OutboxItem.receipt_no).where(
            col(OutboxItem.retry_of) == receipt_no)).first()
        if again is not None:
            raise NotRetryable("already-retried", f"Retried already as {again}")
        payload = open_payload(ctx, item)
        if payload is None:
            raise NotRetryable("payload-wiped",
                               "The submission held a PIN and was wiped: the citizen submits "
                               "again")
        if form:
            if not isinstance(payload.get("form"), dict):
                raise NotRetryable("not-a-form", "This submission has no form to correct")
            payload["form"] = {**payload["form"], **form}
        claim = None
        if item.kind == "subsidy-application":
            claim = (str(payload.get("subsidy", "")), str(payload.get("period", "")))
        copy = enqueue(
            ctx, db, device_id=item.device_id, idempotency_key=idempotency_key,
            citizen_id=str(payload.get("citizen_id", "")), kind=item.kind, payload=payload,
            claim=claim, retry_of=receipt_no,
        )
        audit.append(db, at=ctx.now(), device_id=item.device_id, action="outbox.retried",
                     masked_id=masked(payload.get("citizen_id")), outcome=copy.receipt_no)
        return copy
