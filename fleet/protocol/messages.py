"""Pydantic models of the hrss/v1 payloads (docs/contracts/fleet-mqtt.md).

Each model names its schema (`hrss.<kind>/<major>`) and the channel it travels on. Unknown
fields are ignored so that a newer sender can add fields without breaking older receivers;
anything that changes the meaning of an existing field needs a new major version.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    StringConstraints,
)

from fleet.protocol.topics import DEVICE_ID_PATTERN, Channel


def utc_now() -> datetime:
    return datetime.now(UTC)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: ISO 8601 with an offset (a naive timestamp is rejected), normalised to UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
CommandId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
CommandName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                                pattern=r"^[a-z][a-z0-9-]*$")]


class SchemaId(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    major: int

    def __str__(self) -> str:
        return f"{self.name}/{self.major}"


class Payload(BaseModel):
    """Fields every payload carries besides `schema` (which the codec adds and checks)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SCHEMA: ClassVar[SchemaId]
    CHANNEL: ClassVar[Channel]

    device_id: DeviceId
    ts: UtcDatetime = Field(default_factory=utc_now)


class Birth(Payload):
    SCHEMA = SchemaId(name="hrss.birth", major=1)
    CHANNEL = Channel.BIRTH

    session_seq: NonNegativeInt
    app_version: str
    agent_version: str
    site: str
    hostname: str
    health_interval_s: PositiveFloat


class DeathReason(StrEnum):
    WILL = "will"  # built at connect time and sent by the broker when the connection dies
    SHUTDOWN = "shutdown"  # published by the agent itself before a clean disconnect


class Death(Payload):
    SCHEMA = SchemaId(name="hrss.death", major=1)
    CHANNEL = Channel.DEATH

    session_seq: NonNegativeInt
    # A plain string, not the enum: a presence event must never be dropped because a newer
    # agent gives a reason this manager does not know.
    reason: str = DeathReason.WILL.value


class SystemHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    cpu_percent: NonNegativeFloat
    memory_percent: NonNegativeFloat
    disk_percent: NonNegativeFloat
    uptime_s: NonNegativeFloat


class KioskHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    reachable: bool
    screen: str | None = None
    session_active: bool | None = None
    app_version: str | None = None


class PeripheralState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    MISSING = "missing"


#: Peripheral code when the kiosk's status endpoint does not answer.
KIOSK_UNREACHABLE = "kiosk-unreachable"


class PeripheralHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    state: PeripheralState
    code: str = "ok"
    reason: str = ""


class Health(Payload):
    SCHEMA = SchemaId(name="hrss.health", major=1)
    CHANNEL = Channel.HEALTH

    session_seq: NonNegativeInt
    seq: NonNegativeInt
    app_version: str
    system: SystemHealth
    kiosk: KioskHealth
    peripherals: dict[str, PeripheralHealth] = Field(default_factory=dict)


def new_command_id() -> str:
    return uuid.uuid4().hex


class Command(Payload):
    SCHEMA = SchemaId(name="hrss.command", major=1)
    CHANNEL = Channel.COMMAND

    id: CommandId
    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)
    expires_at: UtcDatetime

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utc_now()) > self.expires_at


class CommandStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    EXPIRED = "expired"
    UNKNOWN_COMMAND = "unknown-command"
    REJECTED = "rejected"


class CommandResult(Payload):
    SCHEMA = SchemaId(name="hrss.command-result", major=1)
    CHANNEL = Channel.COMMAND_RESULT

    id: CommandId
    status: CommandStatus
    output: dict[str, Any] = Field(default_factory=dict)


#: Every payload model of this protocol version.
PAYLOAD_TYPES: tuple[type[Payload], ...] = (Birth, Death, Health, Command, CommandResult)


class KnownCommand(StrEnum):
    """Commands agents of this protocol version understand."""

    PING = "ping"
    REPORT_HEALTH = "report-health"


KNOWN_COMMANDS = frozenset(c.value for c in KnownCommand)
