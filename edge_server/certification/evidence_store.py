"""The kiosk's liveness evidence, kept for disputes: sealed with the edge's data key (frames are
biometric data), bound to its receipt (the AAD), deleted once its retention period is over
(`purge`, called by maintenance). Never logged; only its hash travels to central."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlmodel import Session, col, delete

from edge_server.certification.tables import CertificationEvidence
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed
from edge_server.db import session_scope

log = logging.getLogger(__name__)


def _aad(receipt_no: str) -> str:
    return f"certification_evidence:{receipt_no}"


def keep(ctx: EdgeContext, db: Session, *, receipt_no: str, citizen_id: str,
         evidence: dict[str, Any], evidence_sha256: str, now: dt.datetime) -> None:
    """Add the sealed evidence to `db`'s transaction (the caller commits)."""
    sealed = ctx.cipher.seal_json(evidence, _aad(receipt_no))
    retention = dt.timedelta(days=ctx.settings.certification_evidence_retention_days)
    db.add(CertificationEvidence(
        receipt_no=receipt_no, citizen_key=ctx.cipher.citizen_key(citizen_id),
        evidence_sha256=evidence_sha256, key_id=sealed.key_id, nonce=sealed.nonce,
        payload=sealed.ciphertext, created_at=now, purge_after=now + retention,
    ))


def open_evidence(ctx: EdgeContext, receipt_no: str) -> dict[str, Any] | None:
    """The evidence of a certification (an operator's dispute), or None once purged."""
    with session_scope(ctx.engine, write=False) as db:
        row = db.get(CertificationEvidence, receipt_no)
    if row is None:
        return None
    value = ctx.cipher.open_json(Sealed(row.key_id, row.nonce, row.payload), _aad(receipt_no))
    return value if isinstance(value, dict) else None


def purge(ctx: EdgeContext) -> int:
    """Delete the evidence past its retention period; how many were deleted."""
    now = ctx.now()
    with session_scope(ctx.engine) as db:
        deleted = db.exec(delete(CertificationEvidence).where(
            col(CertificationEvidence.purge_after) < now)).rowcount
    if deleted:
        log.info("purged the evidence of %d certifications (retention over)", deleted)
    return int(deleted or 0)
