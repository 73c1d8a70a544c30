"""Read-only views of devices and their presence history, for REST, and the aggregate counts
`GET /metrics` reads on each scrape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select
from sqlmodel import Session, col

from fleet.manager.models import CommandRecord, Device, PresenceEvent, Rollout
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


# -- counts for metrics (aggregates only: no row of a device is read into Python) -------------


@dataclass(frozen=True)
class SiteCount:
    site: str | None  # None: the device has not said (no birth stored yet)
    devices: int
    online: int


def _online_count() -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((col(Device.online), 1), else_=0)), 0)


def devices_by_site(session: Session, limit: int) -> list[SiteCount]:
    """The `limit` sites with the most devices (ties by name), with their online counts. Sites
    are what terminals say they are, so their number is not ours to bound: the caller counts the
    rest from `device_totals`."""
    count = func.count()
    stmt = (select(col(Device.site), count, _online_count())
            .group_by(col(Device.site))
            .order_by(count.desc(), col(Device.site))
            .limit(limit))
    return [SiteCount(site, int(devices), int(online))
            for site, devices, online in session.execute(stmt).all()]


def device_totals(session: Session) -> SiteCount:
    """All devices and the online ones (site None: every site)."""
    devices, online = session.execute(select(func.count(), _online_count())
                                      .select_from(Device)).one()
    return SiteCount(None, int(devices), int(online))


def command_counts(session: Session, statuses: Sequence[str]) -> dict[str, int]:
    """Commands in each of `statuses` (by the status index); a status with none is absent."""
    stmt = (select(col(CommandRecord.status), func.count())
            .where(col(CommandRecord.status).in_(list(statuses)))
            .group_by(col(CommandRecord.status)))
    return {status: int(n) for status, n in session.execute(stmt).all()}


def rollout_counts(session: Session) -> dict[str, int]:
    """Rollouts in each state (the manager's own states, a handful); absent: none."""
    stmt = select(col(Rollout.state), func.count()).group_by(col(Rollout.state))
    return {state: int(n) for state, n in session.execute(stmt).all()}
