"""Housekeeping: forget what has outlived its purpose (data minimisation, bounded tables)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlmodel import and_, col, delete, or_

from edge_server.certification import evidence_store
from edge_server.context import EdgeContext
from edge_server.db import session_scope
from edge_server.models import CitizenCacheEntry, IdempotencyRecord, RateBucket, ServiceSession
from edge_server.services import certificates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    idempotency_records: int
    sessions: int
    cache_entries: int
    rate_buckets: int = 0
    certification_evidence: int = 0  # past certification_evidence_retention_days
    certificates: int = 0  # issued certificates past certificate_retention_days


def purge(ctx: EdgeContext) -> Purged:
    """Delete idempotency records past their TTL, sessions ended or expired for longer than a
    session's lifetime (a late DELETE still finds them), cache entries too old to serve, and
    rate buckets untouched for longer than it takes them to refill from their deepest debt
    (such a bucket is full, the same as no row)."""
    settings = ctx.settings
    now = ctx.now()
    idem_cutoff = now - dt.timedelta(seconds=settings.idempotency_ttl_s)
    session_cutoff = now - dt.timedelta(seconds=settings.session_ttl_s)
    cache_cutoff = now - dt.timedelta(seconds=settings.cache_max_stale_s)
    refill_s = max(
        (burst + settings.identify_failure_cost) / per_s
        for burst, per_s in (
            (settings.identify_device_burst, settings.identify_device_per_s),
            (settings.identify_hall_burst, settings.identify_hall_per_s),
        )
    )
    bucket_cutoff = now - dt.timedelta(seconds=min(refill_s, 3650 * 86400.0))
    with session_scope(ctx.engine) as db:
        records = db.exec(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < idem_cutoff)
        ).rowcount
        sessions = db.exec(
            delete(ServiceSession).where(
                or_(
                    and_(
                        col(ServiceSession.ended_at).is_not(None),
                        col(ServiceSession.ended_at) < session_cutoff,
                    ),
                    col(ServiceSession.expires_at) < session_cutoff,
                )
            )
        ).rowcount
        cached = db.exec(
            delete(CitizenCacheEntry).where(col(CitizenCacheEntry.fetched_at) < cache_cutoff)
        ).rowcount
        buckets = db.exec(
            delete(RateBucket).where(col(RateBucket.updated_at) < bucket_cutoff)
        ).rowcount
    evidence = evidence_store.purge(ctx)
    result = Purged(records, sessions, cached, buckets, evidence, certificates.purge(ctx))
    if records or sessions or cached or buckets:
        log.info(
            "purged %d idempotency records, %d sessions, %d cache entries, %d rate buckets",
            records, sessions, cached, buckets,
        )
    return result
