"""Registry tables (SQLModel). The latest state per terminal, its presence changes, downsampled
health history, and commands; never every heartbeat (shared/docs/fleet-notes.md: storage, not
the network, is the limit)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, MetaData, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from common.sqlite import UtcDateTime
from fleet.protocol.presence import PresenceKind

NO_PRESENCE_SEQ = -1  # a device known only from health or results: any presence event is newer


class Device(SQLModel, table=True):
    __tablename__ = "fleet_device"
    __table_args__ = (Index("ix_fleet_device_online_last_seen", "online", "last_seen"),)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    site: str | None = Field(default=None, index=True)
    online: bool = False
    # The last accepted presence event: (session_seq, kind), birth(0) < death(1).
    presence_seq: int = Field(
        default=NO_PRESENCE_SEQ, sa_column=Column(BigInteger, nullable=False)
    )
    presence_kind: int = Field(default=int(PresenceKind.DEATH))
    # Why the device is offline: the death's reason (`will`, `shutdown`) or `timeout`.
    presence_reason: str | None = None
    presence_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    # A death of a session not (yet) born here: kept aside, it moves no presence. If that
    # session's birth comes later (another manager was faster with the Will), the birth lands
    # offline instead of online.
    pending_death_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    pending_death_reason: str | None = None
    first_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    # From the newest birth.
    birth_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    app_version: str | None = None
    agent_version: str | None = None
    hostname: str | None = None
    health_interval_s: float | None = None
    # The newest health message, ordered by (session_seq, seq).
    health_session_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    health_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    health_ts: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    health: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class PresenceEvent(SQLModel, table=True):
    """Accepted presence changes (births, deaths, timeouts); ignored events are not kept."""

    __tablename__ = "fleet_presence_event"
    __table_args__ = (Index("ix_fleet_presence_event_device", "device_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str  # birth, death, timeout
    session_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    reason: str | None = None
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class HealthSample(SQLModel, table=True):
    """Downsampled health history: at most one sample per device per history interval."""

    __tablename__ = "fleet_health_sample"
    __table_args__ = (Index("ix_fleet_health_sample_device_ts", "device_id", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(sa_column=Column(String(64), nullable=False))
    session_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    ts: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    health: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class CommandState(StrEnum):
    """Manager-side states; an agent's result status (ok, error, ...) replaces them."""

    PENDING = "pending"  # stored; not yet acknowledged by the broker
    SENT = "sent"  # the broker has it
    TIMED_OUT = "timed-out"  # expired without an answer
    # A set-config replaced by a newer revision before it was answered: never sent again.
    SUPERSEDED = "superseded"


#: States in which an agent's result is still accepted (a late result beats `timed-out`).
OPEN_STATES = (CommandState.PENDING.value, CommandState.SENT.value, CommandState.TIMED_OUT.value)
#: States in which the command may still be (re)delivered.
DELIVERABLE_STATES = (CommandState.PENDING.value, CommandState.SENT.value)


class CommandRecord(SQLModel, table=True):
    __tablename__ = "fleet_command"
    __table_args__ = (
        UniqueConstraint("device_id", "idempotency_key", name="uq_fleet_command_idempotency"),
        Index("ix_fleet_command_device_status", "device_id", "status"),
        Index("ix_fleet_command_status_expires", "status", "expires_at"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    device_id: str = Field(sa_column=Column(String(64), nullable=False))
    name: str
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = CommandState.PENDING.value
    idempotency_key: str = Field(sa_column=Column(String(128), nullable=False))
    request_hash: str
    issued_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    output: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class JobRecord(SQLModel, table=True):
    """The newest `hrss.job/1` message of each job (the highest `update` wins: duplicates and
    reordering change nothing). Only jobs started by a command of the same device are kept, so
    a terminal cannot fill the table with jobs nobody asked for."""

    __tablename__ = "fleet_job"

    device_id: str = Field(sa_column=Column(String(64), primary_key=True))
    job_id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(64), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    update: int = Field(sa_column=Column(BigInteger, nullable=False))
    progress: float = 0.0
    output: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str = ""
    ts: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DeviceLabels(SQLModel, table=True):
    """What operators say about a terminal that it does not report itself (region, tags), for
    rollout filters. Kept apart from `fleet_device`, so labels can be set before a terminal
    first connects and survive its row being forgotten."""

    __tablename__ = "fleet_device_labels"

    device_id: str = Field(sa_column=Column(String(64), primary_key=True))
    region: str | None = Field(default=None, sa_column=Column(String(128), index=True))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Rollout(SQLModel, table=True):
    """A staged rollout of one release (fleet/manager/rollouts). `spec` is what the operator
    asked for; the other columns are the state machine's, changed only under the row's lock."""

    __tablename__ = "fleet_rollout"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_fleet_rollout_idempotency"),
        Index("ix_fleet_rollout_state", "state"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(128), nullable=False))
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(512)))
    group_index: int = 0  # the group being rolled out (0-based)
    group_started_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    groups: int = 0
    total: int = 0
    idempotency_key: str = Field(sa_column=Column(String(128), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    # Bumped by every change: watchers (SSE) see that something moved without diffing rows.
    revision: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class RolloutTarget(SQLModel, table=True):
    """One terminal of a rollout: chosen once, at creation, so that no terminal is in one
    rollout twice (the primary key) and a restart changes nobody's group."""

    __tablename__ = "fleet_rollout_target"
    __table_args__ = (
        Index("ix_fleet_rollout_target_state", "rollout_id", "state"),
        Index("ix_fleet_rollout_target_device", "device_id"),
    )

    rollout_id: str = Field(sa_column=Column(String(64), primary_key=True))
    device_id: str = Field(sa_column=Column(String(64), primary_key=True))
    group_index: int = 0
    position: int = 0  # order within the group (seeded shuffle)
    state: str = Field(sa_column=Column(String(16), nullable=False))
    previous_version: str | None = Field(default=None, sa_column=Column(String(64)))
    not_before: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    attempt: int = 0
    command_id: str | None = Field(default=None, sa_column=Column(String(64)))
    rollback_command_id: str | None = Field(default=None, sa_column=Column(String(64)))
    cancel_command_id: str | None = Field(default=None, sa_column=Column(String(64)))
    error: str | None = Field(default=None, sa_column=Column(String(512)))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DeviceConfig(SQLModel, table=True):
    """A terminal's desired configuration (set through the REST API, one revision per change)
    and the configuration it reports running (from its births and set-config results). Kept
    apart from `fleet_device`: health ingest never touches it."""

    __tablename__ = "fleet_device_config"

    device_id: str = Field(sa_column=Column(String(64), primary_key=True))
    # 0: nothing desired yet (a row made by a birth's report).
    revision: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    desired: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    desired_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    command_id: str | None = Field(default=None, sa_column=Column(String(64)))
    reported_revision: int | None = Field(default=None, sa_column=Column(BigInteger))
    reported: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reported_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    # The newest set-config result's refusals: key -> the agent's reason.
    refused: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


TABLES = [
    Device.__table__, PresenceEvent.__table__, HealthSample.__table__, CommandRecord.__table__,
    JobRecord.__table__, DeviceLabels.__table__, Rollout.__table__, RolloutTarget.__table__,
    DeviceConfig.__table__,
]

#: The registry's own metadata for migrations: SQLModel.metadata holds every SQLModel table in
#: the process (the edge server's too), so the registry's tables are copied into their own.
REGISTRY_METADATA = MetaData()
for _table in TABLES:
    _table.to_metadata(REGISTRY_METADATA)

