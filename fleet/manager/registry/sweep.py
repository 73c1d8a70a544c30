"""Inactivity: devices silent for too long go offline; devices that never became healthy are
forgotten after a retention period.

Every value read here was stored from a device's message, so the arithmetic must survive any of
them: a birth's `health_interval_s` is clamped before it becomes a timedelta (one huge value
used to make every sweep raise, and then no terminal ever went offline again).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from fleet.manager.registry._sql import DEV, EVT, SAMPLE
from fleet.manager.registry.presence import record_event

log = logging.getLogger(__name__)

#: The longest health interval the sweep honours (a day): longer ones count as a day.
MAX_HEALTH_INTERVAL_S = 86_400.0
#: Devices expired per sweep, so that one sweep stays one short transaction.
EXPIRE_BATCH = 1000


@dataclass(frozen=True)
class Stale:
    device_id: str
    last_seen: datetime


def silence_allowed_s(offline_after_s: float, health_interval_s: float | None) -> float:
    """max(offline_after_s, 3 of the device's own health intervals), for any stored value."""
    interval = health_interval_s if health_interval_s is not None else 0.0
    if not math.isfinite(interval) or interval < 0:
        interval = MAX_HEALTH_INTERVAL_S if interval == math.inf else 0.0
    return max(offline_after_s, 3 * min(interval, MAX_HEALTH_INTERVAL_S))


def stale_devices(conn: Connection, now: datetime, offline_after_s: float) -> list[Stale]:
    cutoff = now - timedelta(seconds=offline_after_s)
    rows = conn.execute(
        select(DEV.c.id, DEV.c.last_seen, DEV.c.health_interval_s).where(
            DEV.c.online, DEV.c.last_seen < cutoff
        )
    ).all()
    stale: list[Stale] = []
    for r in rows:
        try:
            allowed = silence_allowed_s(offline_after_s, r.health_interval_s)
            if r.last_seen < now - timedelta(seconds=allowed):
                stale.append(Stale(r.id, r.last_seen))
        except (ArithmeticError, TypeError, ValueError):
            # Whatever is stored, one device must not stop the sweep for the others.
            log.exception("cannot judge the silence of %s; timing it out", r.id)
            stale.append(Stale(r.id, r.last_seen))
    return stale


def time_out(conn: Connection, stale: Stale, now: datetime) -> bool:
    # Conditional: a message that arrived since the read keeps the device online.
    result = conn.execute(
        update(DEV)
        .where(DEV.c.id == stale.device_id, DEV.c.online, DEV.c.last_seen <= stale.last_seen)
        .values(online=False, presence_reason="timeout", presence_at=now)
    )
    if not result.rowcount:
        return False
    record_event(conn, stale.device_id, "timeout", None, "timeout", None, now)
    return True


def expire_unconfirmed(conn: Connection, now: datetime, retention_s: float) -> list[str]:
    """Forget devices that never sent a health the registry stored (births or deaths only, of
    sessions never confirmed) and were last heard of more than `retention_s` ago: forged or
    misconfigured ids must not stay as ghost terminals. A real terminal that comes back is
    simply created again."""
    cutoff = now - timedelta(seconds=retention_s)
    ids = list(
        conn.execute(
            select(DEV.c.id)
            .where(DEV.c.health_ts.is_(None), DEV.c.last_seen < cutoff)
            .order_by(DEV.c.id)
            .limit(EXPIRE_BATCH)
        ).scalars()
    )
    if not ids:
        return []
    # Conditional again: a message since the read makes the device current.
    conn.execute(
        delete(DEV).where(DEV.c.id.in_(ids), DEV.c.health_ts.is_(None), DEV.c.last_seen < cutoff)
    )
    gone = set(ids) - set(conn.execute(select(DEV.c.id).where(DEV.c.id.in_(ids))).scalars())
    if gone:
        conn.execute(delete(EVT).where(EVT.c.device_id.in_(sorted(gone))))
        conn.execute(delete(SAMPLE).where(SAMPLE.c.device_id.in_(sorted(gone))))
    return sorted(gone)
