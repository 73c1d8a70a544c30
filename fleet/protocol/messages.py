"""Pydantic models of the hrss/v1 payloads (docs/contracts/fleet-mqtt.md).

Each model names its schema (`hrss.<kind>/<major>`) and the channel it travels on. Unknown
fields are ignored so that a newer sender can add fields without breaking older receivers;
anything that changes the meaning of an existing field needs a new major version. Every number
has a range and every string a length (`fleet.protocol.limits`): a value outside them fails the
decoding of its own message, and of nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.clock import utc_now
from common.device_id import DEVICE_ID_PATTERN
from fleet.protocol.limits import (
    MAX_PERIPHERALS,
    AgeS,
    Counter,
    Fraction,
    Hostname,
    IntervalS,
    Percent,
    ShortName,
    Site,
    Text,
    UptimeS,
    UtcDatetime,
    Version,
)
from fleet.protocol.topics import Channel

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

    session_seq: Counter
    app_version: Version
    agent_version: Version
    site: Site
    hostname: Hostname
    health_interval_s: IntervalS
    # Commands this agent runs (contract 1.1); absent from older agents, which know only
    # `ping` and `report-health`.
    commands: Annotated[list[CommandName], Field(max_length=64)] = Field(default_factory=list)
    # The configuration this agent runs (contract 1.3, "Configuration"); absent from older agents.
    config: ReportedConfig | None = None


class DeathReason(StrEnum):
    WILL = "will"  # built at connect time and sent by the broker when the connection dies
    SHUTDOWN = "shutdown"  # published by the agent itself before a clean disconnect


class Death(Payload):
    SCHEMA = SchemaId(name="hrss.death", major=1)
    CHANNEL = Channel.DEATH

    session_seq: Counter
    # A plain string, not the enum: a presence event must never be dropped because a newer
    # agent gives a reason this manager does not know.
    reason: ShortName = DeathReason.WILL.value


class SystemHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    cpu_percent: Percent
    memory_percent: Percent
    disk_percent: Percent
    uptime_s: UptimeS


class KioskHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    reachable: bool
    screen: ShortName | None = None
    session_active: bool | None = None
    app_version: Version | None = None


class PeripheralState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    MISSING = "missing"


#: Peripheral code when the kiosk's status endpoint does not answer.
KIOSK_UNREACHABLE = "kiosk-unreachable"


class PeripheralHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    state: PeripheralState
    code: ShortName = "ok"
    reason: Text = ""


class EdgeHealth(BaseModel):
    """The edge server's own health as the agent read it (1.2; absent when the agent is not
    configured to read an edge). `reachable` false: the edge did not answer, and every other
    field is null; a field the edge did not give (an older edge) or gave out of range is null."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reachable: bool
    central_reachable: bool | None = None
    outbox_depth: Counter | None = None
    oldest_pending_age_s: AgeS | None = None
    dead_letters: Counter | None = None
    outbox_full: bool | None = None
    cache_hit_ratio: Fraction | None = None


Peripherals = Annotated[dict[ShortName, PeripheralHealth], Field(max_length=MAX_PERIPHERALS)]

def _is_none(value: object) -> bool:
    return value is None


#: Degrees Celsius a terminal's thermal zones can report and still be read (1.3).
TemperatureC = Annotated[float, Field(ge=-40, le=150, allow_inf_nan=False)]


class OutboxHealth(BaseModel):
    """The kiosk's view of the edge outbox (1.3, from its status document)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    depth: Counter
    oldest_age_s: AgeS | None = None


class MaintenanceHealth(BaseModel):
    """The kiosk's maintenance mode (1.3): on now, or asked for and waiting for the session."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    on: bool
    pending: bool = False


class Health(Payload):
    SCHEMA = SchemaId(name="hrss.health", major=1)
    CHANNEL = Channel.HEALTH

    session_seq: Counter
    seq: Counter
    app_version: Version
    system: SystemHealth
    kiosk: KioskHealth
    peripherals: Peripherals = Field(default_factory=dict)
    edge: EdgeHealth | None = None
    # 1.3, each null when not known: the hottest thermal zone, and what the kiosk's status
    # document says (the kiosk's own view of the edge, its outbox, its maintenance mode).
    # Left out of the message when null: most terminals know none of them, and every byte of
    # health counts at the manager (benchmarks/fleet_ingest).
    temperature_c: TemperatureC | None = Field(None, exclude_if=_is_none)
    edge_reachable: bool | None = Field(None, exclude_if=_is_none)
    outbox: OutboxHealth | None = Field(None, exclude_if=_is_none)
    maintenance: MaintenanceHealth | None = Field(None, exclude_if=_is_none)


def new_command_id() -> str:
    return uuid.uuid4().hex


class Command(Payload):
    SCHEMA = SchemaId(name="hrss.command", major=1)
    CHANNEL = Channel.COMMAND

    id: CommandId
    name: CommandName
    # Free-form per command, bounded by the payload size; each handler validates its own.
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


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in _FINAL_JOB_STATES


_FINAL_JOB_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class JobUpdate(Payload):
    """The state of one long-running job (contract 1.1, "Jobs").

    A job is started by a command; its id is that command's id. `update` rises with every
    message about the job, across agent restarts: a receiver keeps the one with the highest
    `update`, so duplicates and reordering change nothing.
    """

    SCHEMA = SchemaId(name="hrss.job", major=1)
    CHANNEL = Channel.JOB

    job_id: CommandId
    name: CommandName
    state: JobState
    update: Counter
    progress: Fraction = 0.0
    output: dict[str, Any] = Field(default_factory=dict)
    error: Text = ""


# -- configuration (contract 1.3, "Configuration") ----------------------------------------

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
MaintenanceWindow = Annotated[str, StringConstraints(
    pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")]


class ConfigValues(BaseModel):
    """The settings a manager may set on a terminal (`set-config`), each optional, each
    validated alone by the agent (one bad value is refused, the others applied). Strict: a
    string is not a number."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    health_interval_s: IntervalS | None = None
    maintenance_window: MaintenanceWindow | None = None  # "HH:MM-HH:MM", China time
    log_level: LogLevel | None = None
    commit_deadline_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None


CONFIG_KEYS: tuple[str, ...] = tuple(ConfigValues.model_fields)


class ReportedConfig(BaseModel):
    """What an agent runs: the newest revision it accepted and every value in effect. Values
    are plain bounded scalars, not `ConfigValues`: a value this receiver would refuse (a newer
    agent's) must not make it refuse the birth that carries it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    revision: Counter
    values: Annotated[dict[ShortName, bool | int | float | Text | None],
                      Field(max_length=32)] = Field(default_factory=dict)


#: Every payload model of this protocol version.
PAYLOAD_TYPES: tuple[type[Payload], ...] = (
    Birth, Death, Health, Command, CommandResult, JobUpdate
)


class KnownCommand(StrEnum):
    """Commands agents of this protocol version understand."""

    PING = "ping"
    REPORT_HEALTH = "report-health"
    WAIT = "wait"  # a harmless job: waits `seconds`, reporting progress (proves the job path)
    CANCEL_JOB = "cancel-job"
    # Publish the birth of the current session again: a manager got health from a session it has
    # no birth for (the birth went out while no manager was subscribed).
    REBIRTH = "rebirth"
    # A/B updates of the terminal's slots (jobs; docs/contracts/fleet-mqtt.md, "Updates").
    UPDATE = "update"
    ROLLBACK = "rollback"
    # Desired configuration (args {revision, values}; docs/contracts/fleet-mqtt.md).
    SET_CONFIG = "set-config"
    # Remote operation (docs/contracts/fleet-mqtt.md, "Commands"): answered with their result.
    RESTART_APP = "restart-app"
    REBOOT = "reboot"  # refused while a citizen session is open
    MAINTENANCE = "maintenance"
    LOGS = "logs"
    SCREENSHOT = "screenshot"


KNOWN_COMMANDS = frozenset(c.value for c in KnownCommand)
