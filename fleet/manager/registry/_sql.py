"""Table aliases and SQL helpers shared by the registry's modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_
from sqlalchemy.dialects import postgresql, sqlite

from fleet.manager.models import (
    CommandRecord,
    Device,
    DeviceConfig,
    DeviceLabels,
    HealthSample,
    JobRecord,
    PresenceEvent,
    Rollout,
    RolloutTarget,
)

DEV = Device.__table__
CMD = CommandRecord.__table__
EVT = PresenceEvent.__table__
SAMPLE = HealthSample.__table__
JOB = JobRecord.__table__
LABELS = DeviceLabels.__table__
ROLLOUT = Rollout.__table__
TARGET = RolloutTarget.__table__
CONFIG = DeviceConfig.__table__


def presence_newer(seq: Any, kind: Any) -> Any:
    """SQL: (seq, kind) > the stored (presence_seq, presence_kind)."""
    return or_(
        DEV.c.presence_seq < seq, and_(DEV.c.presence_seq == seq, DEV.c.presence_kind < kind)
    )


def upsert_insert(conn: Connection) -> Any:
    """The dialect's `insert` with `on_conflict_do_nothing`."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"registry upserts not written for {name}")
