"""The edge's certification tables (migration 0004).

- `certification_evidence`: the kiosk's liveness evidence (frames: biometric data), sealed with
  the data key, kept until `purge_after` (the retention period), then deleted by maintenance.
- `certification_record`: what the signed record says, without the citizen's ID (a keyed
  hash): the local history a field terminal's queue screen and the operators read.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from common.sqlite import UtcDateTime


class CertificationEvidence(SQLModel, table=True):
    __tablename__ = "certification_evidence"

    receipt_no: str = Field(primary_key=True, max_length=32)
    citizen_key: str = Field(max_length=64, index=True)
    evidence_sha256: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    nonce: bytes
    payload: bytes
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    purge_after: dt.datetime = Field(sa_type=UtcDateTime, index=True)


class CertificationRecord(SQLModel, table=True):
    __tablename__ = "certification_record"

    receipt_no: str = Field(primary_key=True, max_length=32)
    citizen_key: str = Field(max_length=64, index=True)
    device_id: str = Field(max_length=64)
    method: str = Field(max_length=8)  # hall | field
    location: str = Field(max_length=64)
    staff_id: str | None = Field(default=None, max_length=32)
    certified_at: dt.datetime = Field(sa_type=UtcDateTime)
    evidence_sha256: str = Field(max_length=64)
    result: str = Field(max_length=16)
    liveness_version: str = Field(max_length=40)
    signature: str = Field(max_length=128)  # the terminal's, as central verifies it
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
