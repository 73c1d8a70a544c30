"""Health: liveness of the current session, the newest health per device, and downsampled
history (the rules are in the package docstring)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, not_, or_, select, update

from fleet.manager.registry._sql import DEV, SAMPLE
from fleet.manager.registry.outcome import BatchOutcome
from fleet.manager.registry.presence import record_event
from fleet.protocol import Health, PresenceKind

log = logging.getLogger(__name__)

_HEALTH_FIELDS = {
    "ts", "session_seq", "seq", "app_version", "system", "kiosk", "peripherals", "edge",
    "temperature_c", "edge_reachable", "outbox", "maintenance",
}


def newest_per_device(healths: Sequence[Health]) -> dict[str, Health]:
    latest: dict[str, Health] = {}
    for h in healths:
        prev = latest.get(h.device_id)
        if prev is None or (h.session_seq, h.seq) > (prev.session_seq, prev.seq):
            latest[h.device_id] = h
    return latest


def apply_health(
    conn: Connection, healths: Sequence[Health], now: datetime, out: BatchOutcome
) -> list[dict[str, Any]]:
    """Apply the newest health of each device; returns the rows stored (for history)."""
    latest = newest_per_device(healths)
    rows = conn.execute(
        select(DEV.c.id, DEV.c.presence_seq, DEV.c.presence_kind, DEV.c.online).where(
            DEV.c.id.in_(sorted(latest))
        )
    ).all()
    current: list[Health] = []
    for row in rows:
        h = latest[row.id]
        if h.session_seq == row.presence_seq:
            current.append(h)
            if row.presence_kind == PresenceKind.BIRTH and not row.online:
                _resume(conn, h, now, out)
        elif h.session_seq > row.presence_seq:
            # No birth for this session here (lost, or handled later by another manager): it
            # moves no presence, and the device is asked to announce its session again.
            out.unborn.append((h.device_id, h.session_seq))
            out.health_ignored += 1
        else:
            out.health_ignored += 1
    stored = [
        {
            "b_id": h.device_id,
            "b_ss": h.session_seq,
            "b_seq": h.seq,
            "b_ts": h.ts,
            "b_app": h.app_version,
            "b_health": h.model_dump(mode="json", include=_HEALTH_FIELDS),
        }
        for h in sorted(current, key=lambda h: h.device_id)
    ]
    if stored:
        ss = bindparam("b_ss")
        conn.execute(
            update(DEV)
            .where(
                DEV.c.id == bindparam("b_id"),
                DEV.c.presence_seq == ss,  # still the current session
                or_(
                    DEV.c.health_session_seq.is_(None),
                    DEV.c.health_session_seq < ss,
                    and_(DEV.c.health_session_seq == ss, DEV.c.health_seq < bindparam("b_seq")),
                ),
            )
            .values(
                health_session_seq=ss,
                health_seq=bindparam("b_seq"),
                health_ts=bindparam("b_ts"),
                app_version=bindparam("b_app"),
                health=bindparam("b_health"),
            ),
            stored,
        )
    return stored


def _resume(conn: Connection, h: Health, now: datetime, out: BatchOutcome) -> None:
    """Health of the current session brings back a device the sweeper had timed out."""
    result = conn.execute(
        update(DEV)
        .where(
            DEV.c.id == h.device_id,
            DEV.c.presence_seq == h.session_seq,
            DEV.c.presence_kind == int(PresenceKind.BIRTH),
            not_(DEV.c.online),
        )
        .values(online=True, presence_reason=None, presence_at=now)
    )
    if result.rowcount:
        record_event(conn, h.device_id, "resumed", h.session_seq, "health", h.ts, now)
        out.presence_accepted += 1
        log.info("%s online again (session_seq %d)", h.device_id, h.session_seq)


def insert_samples(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    conn.execute(
        insert(SAMPLE),
        [
            {
                "device_id": r["b_id"],
                "session_seq": r["b_ss"],
                "seq": r["b_seq"],
                "ts": r["b_ts"],
                "recorded_at": now,
                "health": r["b_health"],
            }
            for r in rows
        ],
    )
