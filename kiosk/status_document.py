"""The kiosk's status document, `hrss.kiosk-status/1` (docs/contracts/kiosk-status.md).

What `GET /status` answers and the fleet agent reads: version, device id, screen, whether a
citizen session is open (the update lock), the health of every kind of the registry of
peripherals, the state of the edge credential, maintenance, and the last word from the edge.
An allow-list: nothing else can get in,
and no citizen data is ever in it.
The model validates what the kiosk sends; tests/contracts checks it against the JSON Schema.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.device_id import DEVICE_ID_PATTERN
from common.masking import redact
from drivers.base import Health, HealthState
from drivers.registry import Impl
from kiosk.edge.credentials import CredentialState, CredentialStatus
from kiosk.edge.reachability import EdgeContact
from kiosk.peripherals import Peripheral, Peripherals

log = logging.getLogger(__name__)

SCHEMA = "hrss.kiosk-status/1"
MAX_REASON_CHARS = 512
MAX_CHECKED_AT = 7_258_118_400.0  # 2200-01-01: a clock beyond it is broken, not the future
MAX_OUTBOX_DEPTH = 1_000_000
# Entries added within major 1 that are left out, not sent as null, when the kiosk has none.
_OMITTED_WHEN_NONE = ("maintenance", "edge", "outbox")

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class PeripheralEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: HealthState
    code: Code
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS)] = ""
    impl: Impl
    checked_at: Annotated[float, Field(ge=0, le=MAX_CHECKED_AT, allow_inf_nan=False, strict=True)]


class CredentialEntry(BaseModel):
    """The edge credential: its state and expiry, never the token (kiosk.edge.credentials)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: CredentialState
    out_of_service: Annotated[bool, Field(strict=True)]
    expires_at: Annotated[float | None, Field(ge=0, le=MAX_CHECKED_AT, allow_inf_nan=False)] = None


class MaintenanceEntry(BaseModel):
    """Out of service on the fleet's word (POST /control/maintenance); pending: on, but a
    citizen is still being served, so the notice is not on screen yet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    on: Annotated[bool, Field(strict=True)]
    pending: Annotated[bool, Field(strict=True)]


class EdgeEntry(BaseModel):
    """The outcome of the kiosk's last edge call (kiosk.edge.reachability)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reachable: Annotated[bool, Field(strict=True)]
    checked_at: Annotated[float, Field(ge=0, le=MAX_CHECKED_AT, allow_inf_nan=False, strict=True)]


class OutboxEntry(BaseModel):
    """A local durable queue's depth. The hall kiosk has none (the outbox is the edge's,
    docs/outbox.md; field mode queues at the edge too), so it never sends this: the model
    holds the contract's shape for a terminal that will."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    depth: Annotated[int, Field(ge=0, le=MAX_OUTBOX_DEPTH, strict=True)]
    oldest_age_s: Annotated[float | None, Field(ge=0, allow_inf_nan=False, strict=True)] = None


class KioskStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["hrss.kiosk-status/1"] = Field(SCHEMA, alias="schema")
    app_version: Annotated[str, Field(min_length=1, max_length=64,
                                      pattern=r"^[0-9A-Za-z][0-9A-Za-z.+!_-]*$")]
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    screen: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
    session_active: Annotated[bool, Field(strict=True)]  # "yes" is not a boolean
    peripherals: Annotated[dict[Name, PeripheralEntry], Field(max_length=32)]
    # A minor addition to major 1; None (sent as null) only for a kiosk without credentials.
    credential: CredentialEntry | None = None
    # Minor additions to major 1, left out when unknown (never null).
    maintenance: MaintenanceEntry | None = None
    edge: EdgeEntry | None = None
    outbox: OutboxEntry | None = None

    def as_json(self) -> dict[str, Any]:
        document = self.model_dump(mode="json", by_alias=True)
        for name in _OMITTED_WHEN_NONE:
            if document.get(name) is None:
                document.pop(name, None)
        return document


def peripheral_entry(peripheral: Peripheral, health: Health) -> PeripheralEntry:
    """One kind's entry. A driver's reason is free text: redacted (it may quote an exception)
    and clipped; a health a driver got wrong is reported as such rather than breaking /status."""
    reason = redact(health.reason)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    try:
        return PeripheralEntry(state=health.state, code=str(health.code), reason=reason,
                               impl=peripheral.impl, checked_at=health.checked_at)
    except ValidationError:
        log.warning("%s reported a health outside the contract (code %.64r)", peripheral.name,
                    health.code)
        return PeripheralEntry(state=HealthState.DEGRADED, code="bad-health",
                               reason="the driver reported its health in an unknown form",
                               impl=peripheral.impl, checked_at=_clamped(health.checked_at))


def credential_entry(status: CredentialStatus) -> CredentialEntry:
    expires_at = status.expires_at.timestamp() if status.expires_at is not None else None
    return CredentialEntry(state=status.state, out_of_service=status.out_of_service,
                           expires_at=None if expires_at is None else _clamped(expires_at))


def build_status(*, app_version: str, device_id: str, screen: str, session_active: bool,
                 peripherals: Peripherals,
                 credential: CredentialStatus | None = None,
                 maintenance: tuple[bool, bool] | None = None,
                 edge: EdgeContact | None = None) -> KioskStatus:
    """`maintenance`: (on, pending); `edge`: the last edge call's outcome, None before one."""
    return KioskStatus(
        app_version=app_version,
        device_id=device_id,
        screen=screen,
        session_active=session_active,
        peripherals={p.name: peripheral_entry(p, health) for p, health in peripherals.health()},
        credential=credential_entry(credential) if credential is not None else None,
        maintenance=(MaintenanceEntry(on=maintenance[0], pending=maintenance[1])
                     if maintenance is not None else None),
        edge=(EdgeEntry(reachable=edge.reachable, checked_at=_clamped(edge.checked_at))
              if edge is not None else None),
    )


def _clamped(value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(number, 0.0), MAX_CHECKED_AT) if math.isfinite(number) else 0.0
