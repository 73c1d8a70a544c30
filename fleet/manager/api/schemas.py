"""Wire shapes of the manager's REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet.manager.config import drift
from fleet.manager.models import (
    NO_PRESENCE_SEQ,
    CommandRecord,
    Device,
    DeviceConfig,
    PresenceEvent,
)
from fleet.manager.rollouts.spec import Label
from fleet.protocol import PresenceKind
from fleet.protocol.messages import CommandName


class PresenceOut(BaseModel):
    session_seq: int | None = Field(description="session_seq of the last accepted event")
    last_event: Literal["birth", "death"] | None
    reason: str | None = Field(description="why offline: will, shutdown or timeout")
    changed_at: datetime | None


class DeviceOut(BaseModel):
    id: str
    site: str | None
    online: bool
    presence: PresenceOut
    first_seen: datetime
    last_seen: datetime
    app_version: str | None
    agent_version: str | None
    hostname: str | None
    health_interval_s: float | None
    health: dict[str, Any] | None = Field(description="the newest hrss.health/1 body")
    # From that body, for lists and dashboards (null when the terminal does not report it).
    temperature_c: float | None = Field(None, description="the hottest thermal zone")
    edge_reachable: bool | None = Field(None, description="whether the kiosk reaches its edge")
    outbox: dict[str, Any] | None = Field(None, description="the kiosk's outbox: depth, "
                                          "oldest_age_s")
    maintenance: dict[str, Any] | None = Field(None, description="the kiosk's maintenance "
                                               "mode: on, pending")
    printer: dict[str, Any] | None = Field(None, description="the printer's state, code, reason")
    camera: dict[str, Any] | None = Field(None, description="the camera's state, code, reason")

    @classmethod
    def of(cls, d: Device) -> DeviceOut:
        known = d.presence_seq != NO_PRESENCE_SEQ
        health = d.health if isinstance(d.health, dict) else {}
        peripherals = health.get("peripherals")
        peripherals = peripherals if isinstance(peripherals, dict) else {}
        return cls(
            id=d.id,
            site=d.site,
            online=d.online,
            presence=PresenceOut(
                session_seq=d.presence_seq if known else None,
                last_event=(
                    ("birth" if d.presence_kind == PresenceKind.BIRTH else "death")
                    if known else None
                ),
                reason=d.presence_reason,
                changed_at=d.presence_at,
            ),
            first_seen=d.first_seen,
            last_seen=d.last_seen,
            app_version=d.app_version,
            agent_version=d.agent_version,
            hostname=d.hostname,
            health_interval_s=d.health_interval_s,
            health=d.health,
            temperature_c=health.get("temperature_c"),
            edge_reachable=health.get("edge_reachable"),
            outbox=health.get("outbox"),
            maintenance=health.get("maintenance"),
            printer=peripherals.get("printer"),
            camera=peripherals.get("camera"),
        )


class DeviceList(BaseModel):
    items: list[DeviceOut]
    next_after: str | None = Field(description="pass as `after` for the next page")


class PresenceEventOut(BaseModel):
    kind: str
    session_seq: int | None
    reason: str | None
    sent_at: datetime | None
    recorded_at: datetime

    @classmethod
    def of(cls, e: PresenceEvent) -> PresenceEventOut:
        return cls(kind=e.kind, session_seq=e.session_seq, reason=e.reason, sent_at=e.sent_at,
                   recorded_at=e.recorded_at)


class LabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Label | None = None
    tags: list[Label] = Field(default_factory=list, max_length=32)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_s: int | None = Field(None, ge=1, le=7 * 24 * 3600,
                              description="time to live; the manager's default if omitted")


class CommandOut(BaseModel):
    id: str
    device_id: str
    name: str
    args: dict[str, Any]
    status: str = Field(description="pending, sent, timed-out, or the agent's result status")
    issued_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    output: dict[str, Any] | None

    @classmethod
    def of(cls, c: CommandRecord) -> CommandOut:
        return cls(
            id=c.id, device_id=c.device_id, name=c.name, args=c.args, status=c.status,
            issued_at=c.issued_at, expires_at=c.expires_at, sent_at=c.sent_at,
            answered_at=c.answered_at, output=c.output,
        )


class ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    desired: dict[str, Any] = Field(
        max_length=32, description="the whole desired configuration (a key left out goes back "
        "to the terminal's provisioned value): health_interval_s, maintenance_window "
        "(\"HH:MM-HH:MM\"), log_level, commit_deadline_s")
    base_revision: int | None = Field(
        None, ge=0, description="if given, refused (409) unless it is the current revision")


class ReportedConfigOut(BaseModel):
    revision: int
    values: dict[str, Any]
    at: datetime | None


class ConfigOut(BaseModel):
    device_id: str
    revision: int = Field(description="the desired revision (0: none set)")
    desired: dict[str, Any]
    desired_at: datetime | None
    command_id: str | None = Field(description="the set-config command of this revision")
    reported: ReportedConfigOut | None = Field(description="what the terminal says it runs")
    refused: dict[str, Any] = Field(description="keys the terminal refused, and why")
    drift: list[str] = Field(description="desired keys whose reported value differs")
    in_sync: bool = Field(description="the terminal runs this revision, without drift")

    @classmethod
    def of(cls, c: DeviceConfig) -> ConfigOut:
        reported = None if c.reported_revision is None else ReportedConfigOut(
            revision=c.reported_revision, values=c.reported or {}, at=c.reported_at)
        keys = drift(c)
        return cls(
            device_id=c.device_id, revision=c.revision, desired=c.desired,
            desired_at=c.desired_at, command_id=c.command_id, reported=reported,
            refused=c.refused or {}, drift=keys,
            in_sync=reported is not None and reported.revision >= c.revision and not keys,
        )

    @classmethod
    def empty(cls, device_id: str) -> ConfigOut:
        return cls.of(DeviceConfig(device_id=device_id))

