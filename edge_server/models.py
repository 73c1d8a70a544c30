"""SQLModel tables. Portable SQL only (SQLite in a hall, PostgreSQL in a busy one).

Personal data lives only in sealed columns (`key_id`, `nonce`, `payload`/`body`: AES-GCM, see
crypto.py); citizens are found by keyed hash (`citizen_key`), never by ID number.
"""

# No `from __future__ import annotations`: SQLModel reads the annotations at class creation.

import datetime as dt

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


# The edge's own tables: migrations and their autogenerate compare only these (the SQLModel
# metadata is shared with other parts' tables when they are imported in one process).
EDGE_TABLES = frozenset(
    model.__tablename__  # type: ignore[attr-defined]
    for model in (CitizenCacheEntry, ServiceSession, IdempotencyRecord, AuditEntry, AuditHead,
                  RateBucket)
)
