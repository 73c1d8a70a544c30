"""Housekeeping: forget what has outlived its purpose (data minimisation, bounded tables)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlmodel import and_, col, delete, or_

from edge_server.context import EdgeContext
from edge_server.db import session_scope
from edge_server.models import CitizenCacheEntry, IdempotencyRecord, ServiceSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    idempotency_records: int
    sessions: int
    cache_entries: int


def purge(ctx: EdgeContext) -> Purged:
    """Delete idempotency records past their TTL, sessions ended or expired for longer than a
    session's lifetime (a late DELETE still finds them), and cache entries too old to serve."""
    settings = ctx.settings
    now = ctx.now()
    idem_cutoff = now - dt.timedelta(seconds=settings.idempotency_ttl_s)
    session_cutoff = now - dt.timedelta(seconds=settings.session_ttl_s)
    cache_cutoff = now - dt.timedelta(seconds=settings.cache_max_stale_s)
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
    result = Purged(records, sessions, cached)
    if records or sessions or cached:
        log.info(
            "purged %d idempotency records, %d sessions, %d cache entries",
            records, sessions, cached,
        )
    return result
