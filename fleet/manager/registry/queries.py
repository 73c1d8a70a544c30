"""Read-only views of devices and their presence history, for REST."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlmodel import Session, col

from fleet.manager.models import Device, PresenceEvent
from fleet.manager.registry._sql import LABELS, upsert_insert


def get_device(session: Session, device_id: str) -> Device | None:
    return session.get(Device, device_id)


def list_devices(
    session: Session, *, site: str | None, online: bool | None, after: str | None, limit: int
) -> list[Device]:
    stmt = select(Device).order_by(col(Device.id)).limit(limit)
    if site is not None:
        stmt = stmt.where(col(Device.site) == site)
    if online is not None:
        stmt = stmt.where(col(Device.online) == online)
    if after is not None:
        stmt = stmt.where(col(Device.id) > after)
    return list(session.scalars(stmt).all())


def presence_events(session: Session, device_id: str, limit: int) -> list[PresenceEvent]:
    stmt = (
        select(PresenceEvent)
        .where(col(PresenceEvent.device_id) == device_id)
        .order_by(col(PresenceEvent.id).desc())
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def set_labels(conn: Connection, device_id: str, region: str | None, tags: list[str],
               now: datetime) -> None:
    ins = upsert_insert(conn)(LABELS).values(device_id=device_id, region=region, tags=tags,
                                             updated_at=now)
    conn.execute(ins.on_conflict_do_update(
        index_elements=[LABELS.c.device_id],
        set_={"region": ins.excluded.region, "tags": ins.excluded.tags,
              "updated_at": ins.excluded.updated_at}))
