"""The edge's issued certificates (migration 0006).

One row per verification code. What names the person (the content and the PDF itself) is
sealed with the data key, each under its own nonce and associated data; in the clear only what
a verification needs to find and compare: the code, the kind, when and by which device it was
issued, the PDF's SHA-256, the keyed hash of the citizen, and the download token's hash.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from common.sqlite import UtcDateTime


class IssuedCertificate(SQLModel, table=True):
    __tablename__ = "issued_certificate"

    code: str = Field(primary_key=True, max_length=24)
    kind: str = Field(max_length=16)
    device_id: str = Field(max_length=64, index=True)
    session_id: str = Field(max_length=64)
    citizen_key: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=32)
    nonce: bytes  # the content (JSON)
    payload: bytes
    pdf_nonce: bytes  # the signed PDF
    pdf: bytes
    pdf_sha256: str = Field(max_length=64)
    pdf_bytes: int
    issued_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)
    # The kiosk's on-screen QR code fetches the PDF with a token of its own (the printed code
    # only verifies): its SHA-256 here, usable until it expires.
    download_sha256: str = Field(max_length=64, unique=True)
    download_expires_at: dt.datetime = Field(sa_type=UtcDateTime)
