"""Central data about a citizen through the encrypted cache, by the contract's freshness rules:

- younger than `cache_ttl_s`: the cache answers, central is not asked;
- else central is asked; its answer is cached and returned;
- `refresh=True` (identify checks the card's status): central is asked whatever the entry's
  age, and the rules below apply when it cannot answer;
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
from sqlalchemy import bindparam, select
from sqlmodel import Session, col, delete

from common.masking import mask_citizen_id
from common.problem import Problem
from common.sqlite import WRITE_OPTION
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


def person(ctx: EdgeContext, citizen_id: str, *, refresh: bool = False) -> Fresh[CentralPerson]:
    """`refresh`: skip the TTL (ask central now); the cache still answers when central is
    unavailable."""

    def fetch() -> tuple[dt.datetime, Any]:
        answer = ctx.central.query_person(citizen_id)
        return answer.as_of, answer.person.model_dump(mode="json")

    return cached(ctx, citizen_id, PERSON, fetch, CentralPerson.model_validate, refresh=refresh)


def pension_payments(ctx: EdgeContext, citizen_id: str) -> Fresh[list[CentralPayment]]:
    """The central platform's default window: the last 24 months."""

    def fetch() -> tuple[dt.datetime, Any]:
        answer = ctx.central.query_payments(citizen_id)
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    return cached(ctx, citizen_id, PAYMENTS, fetch, _PAYMENTS.validate_python)


def cached(
    ctx: EdgeContext,
    citizen_id: str,
    kind: str,
    fetch: Callable[[], tuple[dt.datetime, Any]],
    load: Callable[[Any], T],
    *,
    refresh: bool = False,
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
    if not refresh and cached is not None and dt.timedelta(0) <= now - cached.fetched_at < ttl:
        ctx.cache_stats.hit()
        return Fresh(cached.value, cached.as_of, stale=False)
    ctx.cache_stats.miss()
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


_ENTRY = CitizenCacheEntry.__table__  # type: ignore[attr-defined]
_READ_ENTRY = select(
    _ENTRY.c.key_id, _ENTRY.c.nonce, _ENTRY.c.payload, _ENTRY.c.as_of, _ENTRY.c.fetched_at
).where(_ENTRY.c.citizen_key == bindparam("key"), _ENTRY.c.kind == bindparam("kind"))


def _read(
    ctx: EdgeContext, key: str, kind: str, aad: str, load: Callable[[Any], T]
) -> _Cached[T] | None:
    # The hot read path (every cached benefits view): plain SQL, no ORM unit of work.
    with ctx.engine.connect().execution_options(**{WRITE_OPTION: False}) as conn:
        entry = conn.execute(_READ_ENTRY, {"key": key, "kind": kind}).first()
    if entry is None:
        return None
    memo_key = (key, kind, entry.key_id, entry.nonce, entry.payload)
    value = ctx.opened.get(memo_key)
    if value is None:
        try:
            data = ctx.cipher.open_json(Sealed(entry.key_id, entry.nonce, entry.payload), aad)
            value = load(data)
        except (SealError, ValidationError, ValueError) as exc:
            # Unreadable (other key, tampered, older format): as good as absent.
            log.warning("ignoring an unreadable %s cache entry: %s", kind, type(exc).__name__)
            return None
        ctx.opened.put(memo_key, value)
    return _Cached(value, entry.as_of, entry.fetched_at)  # type: ignore[arg-type]


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
