"""Central data about a citizen through the encrypted cache, by the contract's freshness rules:

- younger than `cache_ttl_s`: the cache answers, central is not asked;
- else central is asked; its answer is cached and returned;
- central unreachable: the cache answers with `stale=True` while younger than
  `cache_max_stale_s`, else `503 central-unavailable` with Retry-After.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, delete

from common.masking import mask_citizen_id
from common.problem import Problem
from edge_server.central import (
    CentralNotFound,
    CentralPayment,
    CentralPerson,
    CentralUnavailable,
)
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed, SealError
from edge_server.db import run_in_transaction, session_scope
from edge_server.models import CitizenCacheEntry

PERSON = "person"
PAYMENTS = "payments"

T = TypeVar("T")
log = logging.getLogger(__name__)

_PAYMENTS = TypeAdapter(list[CentralPayment])


@dataclass(frozen=True)
class Fresh(Generic[T]):
    value: T
    as_of: dt.datetime
    stale: bool


@dataclass(frozen=True)
class _Cached(Generic[T]):
    value: T
    as_of: dt.datetime  # the central platform's time of the data
    fetched_at: dt.datetime  # the edge's clock when it was cached


def person(ctx: EdgeContext, citizen_id: str) -> Fresh[CentralPerson]:
    def fetch() -> tuple[dt.datetime, Any]:
        answer = ctx.central.query_person(citizen_id)
        return answer.as_of, answer.person.model_dump(mode="json")

    return _fresh(ctx, citizen_id, PERSON, fetch, CentralPerson.model_validate)


def pension_payments(ctx: EdgeContext, citizen_id: str) -> Fresh[list[CentralPayment]]:
    """The central platform's default window: the last 24 months."""

    def fetch() -> tuple[dt.datetime, Any]:
        answer = ctx.central.query_payments(citizen_id)
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    return _fresh(ctx, citizen_id, PAYMENTS, fetch, _PAYMENTS.validate_python)


def _fresh(
    ctx: EdgeContext,
    citizen_id: str,
    kind: str,
    fetch: Callable[[], tuple[dt.datetime, Any]],
    load: Callable[[Any], T],
) -> Fresh[T]:
    settings = ctx.settings
    ttl = dt.timedelta(seconds=settings.cache_ttl_s)
    max_stale = dt.timedelta(seconds=settings.cache_max_stale_s)
    key = ctx.cipher.citizen_key(citizen_id)
    aad = f"cache:{key}:{kind}"
    now = ctx.now()
    cached = _read(ctx, key, kind, aad, load)
    # Fetched "in the future" means a clock was set back (or another edge process runs ahead):
    # the entry's age is unknown, so it is not fresh, though it may still serve as stale.
    if cached is not None and dt.timedelta(0) <= now - cached.fetched_at < ttl:
        return Fresh(cached.value, cached.as_of, stale=False)
    try:
        as_of, data = fetch()
    except CentralUnavailable as exc:
        if cached is not None and now - cached.fetched_at <= max_stale:
            log.info("central unavailable (%s): %s from cache, stale", exc, kind)
            return Fresh(cached.value, cached.as_of, stale=True)
        log.warning("central unavailable (%s) and no usable %s cached", exc, kind)
        raise Problem(
            503, "central-unavailable", "The central platform cannot be reached",
            retry_after=settings.central_retry_after_s,
        ) from None
    except CentralNotFound:
        log.info("central does not know citizen %s", mask_citizen_id(citizen_id))
        _forget(ctx, key)
        raise Problem(
            404, "citizen-not-found", "The central platform does not know this person"
        ) from None
    _write(ctx, key, kind, aad, data, as_of, now)
    return Fresh(load(data), as_of, stale=False)


def _read(
    ctx: EdgeContext, key: str, kind: str, aad: str, load: Callable[[Any], T]
) -> _Cached[T] | None:
    with session_scope(ctx.engine, write=False) as db:
        entry = db.get(CitizenCacheEntry, (key, kind))
    if entry is None:
        return None
    try:
        data = ctx.cipher.open_json(Sealed(entry.key_id, entry.nonce, entry.payload), aad)
        return _Cached(load(data), entry.as_of, entry.fetched_at)
    except (SealError, ValidationError, ValueError) as exc:
        # Unreadable (other key, tampered, older format): as good as absent.
        log.warning("ignoring an unreadable %s cache entry: %s", kind, type(exc).__name__)
        return None


def _write(
    ctx: EdgeContext, key: str, kind: str, aad: str, data: Any, as_of: dt.datetime,
    now: dt.datetime,
) -> None:
    sealed = ctx.cipher.seal_json(data, aad)

    def upsert(db: Session) -> None:
        # merge = read then insert or update: portable; a concurrent insert of the same key
        # makes this transaction fail and run again (run_in_transaction).
        db.merge(
            CitizenCacheEntry(
                citizen_key=key, kind=kind, key_id=sealed.key_id, nonce=sealed.nonce,
                payload=sealed.ciphertext, as_of=as_of, fetched_at=now,
            )
        )

    run_in_transaction(ctx.engine, upsert)


def _forget(ctx: EdgeContext, key: str) -> None:
    with session_scope(ctx.engine) as db:
        db.exec(delete(CitizenCacheEntry).where(col(CitizenCacheEntry.citizen_key) == key))
