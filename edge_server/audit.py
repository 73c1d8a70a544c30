"""The audit log: append-only, each entry chained to the one before by hash.

hash(n) = sha256(hash(n-1) + canonical JSON of entry n's fields), hash(0) = 64 zeros. Editing,
deleting or reordering any entry breaks the chain from that entry on, which `verify_chain`
reports. (Cutting entries off the end needs an outside anchor: export the last hash.)
Entries name a device, an action, a session and at most a masked ID: never personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction
from edge_server.models import AuditEntry, AuditHead

GENESIS = "0" * 64
HEAD_ID = 1
_BATCH = 1000


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "device_id": entry.device_id,
        "action": entry.action,
        "session_id": entry.session_id,
        "masked_id": entry.masked_id,
        "outcome": entry.outcome,
    }


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    canonical = json.dumps(
        _fields(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def append(
    db: Session,
    *,
    at: dt.datetime,
    device_id: str,
    action: str,
    session_id: str | None = None,
    masked_id: str | None = None,
    outcome: str | None = None,
) -> AuditEntry:
    """Add the next entry to `db`'s transaction; the caller commits.

    Appenders queue on the locked head row. Only the very first append of a database (no head
    row yet) can race: the primary keys reject the loser's commit and the caller retries
    (db.run_in_transaction) with the chain's new head.
    """
    head = db.exec(
        select(AuditHead).where(col(AuditHead.id) == HEAD_ID).with_for_update()
    ).first()
    if head is None:
        # A new log, or one written before the head row existed: start from its last entry.
        last = db.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
        head = AuditHead(
            id=HEAD_ID,
            seq=0 if last is None else last.seq,
            hash=GENESIS if last is None else last.hash,
        )
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at,
        device_id=device_id,
        action=action,
        session_id=session_id,
        masked_id=masked_id,
        outcome=outcome,
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    head.seq, head.hash = entry.seq, entry.hash
    db.add(entry)
    db.add(head)
    return entry


def append_view(
    ctx: EdgeContext,
    *,
    device_id: str,
    action: str,
    session_id: str,
    masked_id: str,
    outcome: str,
) -> None:
    """Audit that a session's citizen data was shown: once per session, action and outcome.

    A citizen paging through their payments is one access, not thirty: writing (and locking
    the chain's head) for every page turn would make every read a write. The memo is this
    process's; another edge process sharing the database audits its first view too.
    """
    memo_key = (session_id, action, outcome)
    if ctx.views_audited.get(memo_key) is not None:
        return
    now = ctx.now()
    run_in_transaction(
        ctx.engine,
        lambda db: append(db, at=now, device_id=device_id, action=action,
                          session_id=session_id, masked_id=masked_id, outcome=outcome),
    )
    ctx.views_audited.put(memo_key, True)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(db: Session) -> ChainReport:
    """Walk the whole log and check every link; stops at the first broken one."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        batch = db.exec(
            select(AuditEntry)
            .where(col(AuditEntry.seq) > last_seq)
            .order_by(col(AuditEntry.seq))
            .limit(_BATCH)
        ).all()
        if not batch:
            return ChainReport(ok=True, entries=count)
        for entry in batch:
            if entry.seq != expected_seq:
                return ChainReport(False, count, expected_seq, "an entry is missing")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, count, entry.seq, "does not link to the entry before")
            if entry_hash(prev_hash, entry) != entry.hash:
                return ChainReport(False, count, entry.seq, "content does not match its hash")
            prev_hash = entry.hash
            expected_seq += 1
            count += 1
            last_seq = entry.seq
