"""SQLModel tables. Portable SQL only (SQLite in a hall, PostgreSQL in a busy one).

Personal data lives only in sealed columns (`key_id`, `nonce`, `payload`/`body`: AES-GCM, see
crypto.py); citizens are found by keyed hash (`citizen_key`), never by ID number.
"""

# No `from __future__ import annotations`: SQLModel reads the annotations at class creation.

import datetime as dt

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    Stored naive (in UTC) because SQLite has no time zones; comparisons stay correct because
    every value is converted on the way in.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give every time in UTC with tzinfo")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


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
