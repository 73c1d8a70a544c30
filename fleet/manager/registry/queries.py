"""Read-only views of devices and their presence history, for REST."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from fleet.manager.models import Device, PresenceEvent


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
