"""SQLModel tables. Portable SQL only (SQLite in a hall, PostgreSQL in a busy one).

Personal data lives only in sealed columns (`key_id`, `nonce`, `payload`/`body`: AES-GCM, see
crypto.py); citizens are found by keyed hash (`citizen_key`), never by ID number.
"""

# No `from __future__ import annotations`: SQLModel reads the annotations at class creation.

import datetime as dt

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from common.sqlite import UtcDateTime


class CitizenCacheEntry(SQLModel, table=True):
    """One central answer about one citizen (`kind`: person | payments), sealed."""

    __tablename__ = "citizen_cache"

    citizen_key: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)
    key_id: str = Field(max_length=32)
    nonce: bytes
    payload: bytes
    as_of: dt.datetime = Field(sa_type=UtcDateTime)  # the central platform's time of the data
    fetched_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)  # edge clock: TTL


class ServiceSession(SQLModel, table=True):
    """A citizen's session on one device. `payload` seals the citizen ID (needed to ask the
    central platform for more) and the view answered when it was opened."""

    __tablename__ = "service_session"

    id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(index=True, max_length=64)
    citizen_key: str = Field(index=True, max_length=64)
    key_id: str = Field(max_length=32)
    nonce: bytes
    payload: bytes
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)


class IdempotencyRecord(SQLModel, table=True):
    """One (device, Idempotency-Key): the primary key is what makes concurrent first uses safe
    (the second INSERT fails), rather than a check that races."""

    __tablename__ = "idempotency_record"

    device_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    fingerprint: str = Field(max_length=64)  # sha256 of method, path and body
    state: str = Field(max_length=16)  # in-flight | done
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=64)
    key_id: str | None = Field(default=None, max_length=32)
    nonce: bytes | None = None
    body: bytes | None = None  # sealed: an answer may carry personal data
    created_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained. No personal data: a masked ID at most."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime = Field(sa_type=UtcDateTime)
    device_id: str = Field(max_length=64)
    action: str = Field(max_length=64)
    session_id: str | None = Field(default=None, max_length=64)
    masked_id: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The chain's last link, in one row that every append locks (SELECT ... FOR UPDATE).

    Without it, concurrent appenders on PostgreSQL (READ COMMITTED) all read the same last
    entry and all but one fail on the primary key, over and over under load; the row lock makes
    them queue instead. SQLite needs no lock (BEGIN IMMEDIATE already serialises writers).
    """

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str = Field(max_length=64)


class RateBucket(SQLModel, table=True):
    """One token bucket of the identify rate limit (rate_limit.py): a device's, or the hall's.

    In the database, not in memory: every worker thread and every edge process on this database
    shares it, and a restart does not refill an attacker's bucket.
    """

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True, max_length=80)
    tokens: float
    updated_at: dt.datetime = Field(sa_type=UtcDateTime)


class OutboxItem(SQLModel, table=True):
    """One submission to central (the outbox, edge_server/outbox/): committed in the caller's
    transaction before the kiosk gets its receipt, sent by the relay in `seq` order.

    `payload` seals the central Submission payload (it names the citizen, maybe a PIN); once
    final, a payload holding a PIN is wiped (empty). `result` is the central record (sent) or
    the refusal (dead) as JSON: masks at most, no personal data.
    """

    __tablename__ = "outbox_item"
    __table_args__ = (
        # A kiosk's retry after a crash (same Idempotency-Key) finds the same item.
        UniqueConstraint("device_id", "idempotency_key", name="uq_outbox_item_device_key"),
        # The relay reads the head of the queue: WHERE state = 'pending' ORDER BY seq.
        Index("ix_outbox_item_state_seq", "state", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    receipt_no: str = Field(max_length=32, unique=True)
    submission_key: str = Field(max_length=64, unique=True)
    device_id: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=128)
    citizen_key: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)
    key_id: str = Field(max_length=32)
    nonce: bytes
    payload: bytes
    state: str = Field(max_length=16)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UtcDateTime)
    lease_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    outcome: str | None = Field(default=None, max_length=16)
    result: str | None = Field(default=None, sa_type=Text)
    dead_code: str | None = Field(default=None, max_length=64)
    dead_reason: str | None = Field(default=None, max_length=500)
    retry_of: str | None = Field(default=None, max_length=32, index=True)


class ClaimGuard(SQLModel, table=True):
    """One claim (citizen, subsidy, period) held by one application: the primary key makes two
    kiosks' concurrent applications one (the second INSERT fails). Released when its item is
    refused, so a corrected application can claim again."""

    __tablename__ = "claim_guard"

    citizen_key: str = Field(primary_key=True, max_length=64)
    subsidy: str = Field(primary_key=True, max_length=40)
    period: str = Field(primary_key=True, max_length=16)
    receipt_no: str = Field(max_length=32)
    created_at: dt.datetime = Field(sa_type=UtcDateTime)


class CardBlock(SQLModel, table=True):
    """A card the edge refuses offline: from central's blacklist feed, or a citizen's pending
    local loss report (services/blacklist.py). `card_key` is a keyed hash, never a number."""

    __tablename__ = "card_block"

    card_key: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16)
    source: str = Field(max_length=24)  # central-feed | local-loss-report
    changed_at: dt.datetime = Field(sa_type=UtcDateTime)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime)


class SyncCursor(SQLModel, table=True):
    """Where a pulled feed (the card blacklist) stopped: the next pull continues from here."""

    __tablename__ = "sync_cursor"

    name: str = Field(primary_key=True, max_length=32)
    cursor: str = Field(max_length=64)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime)


# The edge's own tables: migrations and their autogenerate compare only these (the SQLModel
# metadata is shared with other parts' tables when they are imported in one process).
# Tables kept beside the feature they serve (one module each), registered here with the rest.
from edge_server.certificates.tables import IssuedCertificate  # noqa: E402
from edge_server.certification.tables import (  # noqa: E402
    CertificationEvidence,
    CertificationRecord,
)
from edge_server.field_tables import FieldRosterEntry, FieldTrip  # noqa: E402

EDGE_TABLES = frozenset(
    model.__tablename__  # type: ignore[attr-defined]
    for model in (CitizenCacheEntry, ServiceSession, IdempotencyRecord, AuditEntry, AuditHead,
                  RateBucket, OutboxItem, ClaimGuard, CardBlock, SyncCursor,
                  CertificationEvidence, CertificationRecord, FieldTrip, FieldRosterEntry,
                  IssuedCertificate)
)
