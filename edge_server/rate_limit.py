"""Token buckets for identify (POST /sessions): one per device and one for the whole hall;
and for service-PIN attempts (card loss report and reversal): one per citizen, one per device.

Identify answers whether a citizen ID exists; unlimited, it is an oracle. Each attempt takes
one token from the device's bucket and one from the hall's, and a refusal (unknown citizen,
invalid ID or card) takes `identify_failure_cost - 1` more once it is known, so a bucket may go
into debt: probing costs far more than serving citizens. An empty bucket answers 429 with
Retry-After, the time until one token is back.

Where the state lives: a row per bucket in the edge's own database, not process memory. Every
worker thread and every edge process on the database share it (the write is one small
BEGIN IMMEDIATE transaction, serialised by the database), and a restart of the edge, which
an attacker can provoke, does not refill anyone's bucket. The cost is one row write per
identify, which already writes a session and an audit entry.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlmodel import Session

from common.problem import Problem
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction
from edge_server.models import RateBucket

HALL_KEY = "identify:hall"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bucket:
    key: str
    burst: float  # the capacity: how many in a row
    per_s: float  # the refill rate


def device_key(device_id: str) -> str:
    return f"identify:device:{device_id}"


def identify_buckets(ctx: EdgeContext, device_id: str) -> tuple[Bucket, Bucket]:
    s = ctx.settings
    return (
        Bucket(device_key(device_id), s.identify_device_burst, s.identify_device_per_s),
        Bucket(HALL_KEY, s.identify_hall_burst, s.identify_hall_per_s),
    )


def pin_buckets(ctx: EdgeContext, device_id: str, citizen_id: str) -> tuple[Bucket, Bucket]:
    """A PIN has a million values: guessing one is limited per citizen (whoever asks, from
    any device; keyed by the keyed hash, never the ID) and per device (whoever it asks for)."""
    s = ctx.settings
    return (
        Bucket(f"pin:citizen:{ctx.cipher.citizen_key(citizen_id)}", s.pin_citizen_burst,
               s.pin_citizen_per_s),
        Bucket(f"pin:device:{device_id}", s.pin_device_burst, s.pin_device_per_s),
    )


def _level(row: RateBucket | None, bucket: Bucket, now: dt.datetime) -> float:
    if row is None:
        return bucket.burst
    # A clock set back refills nothing (never a negative elapsed time).
    elapsed = max(0.0, (now - row.updated_at).total_seconds())
    return min(bucket.burst, row.tokens + elapsed * bucket.per_s)


def _store(db: Session, row: RateBucket | None, bucket: Bucket, tokens: float,
           now: dt.datetime) -> None:
    if row is None:
        db.add(RateBucket(key=bucket.key, tokens=tokens, updated_at=now))
    else:
        row.tokens, row.updated_at = tokens, now
        db.add(row)


def take(ctx: EdgeContext, buckets: tuple[Bucket, ...], cost: float = 1.0,
         what: str = "identify") -> None:
    """Take `cost` from every bucket, all or none; 429 too-many-requests when one lacks a
    token (nothing is taken then). `what` names the attempts in the answer's title."""
    now = ctx.now()

    def work(db: Session) -> float:
        rows = [db.get(RateBucket, b.key, with_for_update=True) for b in buckets]
        levels = [_level(row, b, now) for row, b in zip(rows, buckets, strict=True)]
        waits = [(1.0 - level) / b.per_s for level, b in zip(levels, buckets, strict=True)
                 if level < 1.0]
        if waits:
            return max(waits)
        for row, bucket, level in zip(rows, buckets, levels, strict=True):
            _store(db, row, bucket, level - cost, now)
        return 0.0

    wait = run_in_transaction(ctx.engine, work)
    if wait > 0:
        # Bucket keys hold device ids and keyed hashes only: fit for a log line.
        log.warning("%s rate limit reached (%s); retry in %.0f s", what,
                    ", ".join(b.key for b in buckets), wait)
        raise Problem(
            429, "too-many-requests", f"Too many {what} attempts; try again later",
            # round() first: float error must not turn an exact 1 s into 2 s.
            retry_after=max(1, math.ceil(round(wait, 3))),
        )


def charge(ctx: EdgeContext, buckets: tuple[Bucket, ...], cost: float) -> None:
    """Take `cost` more after the fact (a refusal), into debt if need be: never refuses."""
    if cost <= 0:
        return
    now = ctx.now()

    def work(db: Session) -> None:
        for bucket in buckets:
            row = db.get(RateBucket, bucket.key, with_for_update=True)
            _store(db, row, bucket, _level(row, bucket, now) - cost, now)

    run_in_transaction(ctx.engine, work)
