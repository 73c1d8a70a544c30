"""The agent's validating reader of the kiosk's status document (docs/contracts/kiosk-status.md).

The kiosk is a separate process the agent must survive: whatever `GET /status` answers, the
reader either returns a `KioskStatus` that keeps the contract or raises `KioskStatusRejected`
with one of three distinct reasons (too large, a major version it does not know, invalid),
which the agent reports as such instead of crashing or passing the bytes on. The agent may not
import the kiosk, so this model is written independently of kiosk/status_document.py;
tests/contracts/test_kiosk_agent_contract.py holds both to the one JSON Schema.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.device_id import DEVICE_ID_PATTERN
from common.masking import redact
from fleet.protocol.limits import MAX_NAME_LEN, MAX_PERIPHERALS, MAX_TEXT_LEN, MAX_VERSION_LEN
from fleet.protocol.messages import PeripheralState

SCHEMA_NAME = "hrss.kiosk-status"
SUPPORTED_MAJOR = 1
#: Largest document read; a real one is about 1.5 KiB (six peripherals).
MAX_STATUS_BYTES = 64 * 1024

#: Code of a peripheral entry that breaks the contract (and whose own code is unusable).
BAD_ENTRY = "bad-status"
#: Bounds of the entries added within major 1 (kiosk-status.schema.json).
MAX_CHECKED_AT = 7_258_118_400.0
MAX_OUTBOX_DEPTH = 1_000_000

_SCHEMA = re.compile(r"^(?P<name>[a-z][a-z0-9.-]{0,63})/(?P<major>[0-9]{1,6})$")
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class StatusRejection(StrEnum):
    """Why a document was refused: the code every peripheral is reported with meanwhile."""

    TOO_LARGE = "kiosk-status-too-large"
    UNSUPPORTED_VERSION = "kiosk-status-unsupported"
    INVALID = "kiosk-status-invalid"


class KioskStatusRejected(Exception):
    def __init__(self, rejection: StatusRejection, detail: str) -> None:
        super().__init__(f"{rejection}: {detail}")
        self.rejection = rejection
        self.detail = detail


class PeripheralStatus(BaseModel):
    # Unknown fields are ignored: a newer kiosk may add some within major 1.
    model_config = ConfigDict(frozen=True, extra="ignore")

    state: PeripheralState
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    reason: Annotated[str, Field(max_length=MAX_TEXT_LEN)] = ""


class MaintenanceStatus(BaseModel):
    """Maintenance on the fleet's word; `pending`: on, a citizen still being served."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    on: Annotated[bool, Field(strict=True)]
    pending: Annotated[bool, Field(strict=True)]


class EdgeStatus(BaseModel):
    """The outcome of the kiosk's last call to its edge server."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    reachable: Annotated[bool, Field(strict=True)]
    checked_at: Annotated[float, Field(ge=0, le=MAX_CHECKED_AT, allow_inf_nan=False,
                                       strict=True)]  # a number, not "1780000000"


class OutboxStatus(BaseModel):
    """A kiosk's local durable queue (the hall kiosk has none and leaves it out)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    depth: Annotated[int, Field(ge=0, le=MAX_OUTBOX_DEPTH, strict=True)]
    oldest_age_s: Annotated[float | None, Field(ge=0, allow_inf_nan=False, strict=True)] = None


class KioskStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    schema_: Annotated[str, Field(alias="schema", pattern=r"^hrss\.kiosk-status/1$")]
    app_version: Annotated[str, Field(min_length=1, max_length=MAX_VERSION_LEN,
                                      pattern=r"^[0-9A-Za-z][0-9A-Za-z.+!_-]*$")]
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    screen: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=MAX_NAME_LEN)]
    session_active: Annotated[bool, Field(strict=True)]  # "yes" is not a boolean
    # Entries are checked one by one (read_kiosk_status): one bad entry stands alone.
    peripherals: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME_LEN)],
             PeripheralStatus],
        Field(max_length=MAX_PERIPHERALS),
    ]
    # Added within major 1: None when absent (an older kiosk) or null. One that breaks the
    # contract refuses the document, as any other top-level field does.
    maintenance: MaintenanceStatus | None = None
    edge: EdgeStatus | None = None
    outbox: OutboxStatus | None = None


class _Envelope(KioskStatus):
    peripherals: Annotated[  # type: ignore[assignment]
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME_LEN)],
             Any],
        Field(max_length=MAX_PERIPHERALS),
    ]


def read_kiosk_status(body: bytes) -> KioskStatus:
    """The document in `body`, validated; raises KioskStatusRejected, nothing else."""
    if len(body) > MAX_STATUS_BYTES:
        raise KioskStatusRejected(StatusRejection.TOO_LARGE,
                                  f"{len(body)} bytes, more than {MAX_STATUS_BYTES}")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        raise KioskStatusRejected(StatusRejection.INVALID, "not JSON") from exc
    return check_kiosk_status(document)


def check_kiosk_status(document: Any) -> KioskStatus:
    """A decoded document, validated: version first, so that a newer major is refused as such
    and not as a pile of field errors."""
    if not isinstance(document, dict):
        raise KioskStatusRejected(StatusRejection.INVALID, "not a JSON object")
    schema = document.get("schema")
    match = _SCHEMA.match(schema) if isinstance(schema, str) else None
    if match is None or match["name"] != SCHEMA_NAME:
        raise KioskStatusRejected(StatusRejection.INVALID,
                                  f"no {SCHEMA_NAME}/<major> schema field")
    if int(match["major"]) != SUPPORTED_MAJOR:
        raise KioskStatusRejected(
            StatusRejection.UNSUPPORTED_VERSION,
            f"major version {int(match['major'])}; this agent reads {SUPPORTED_MAJOR}",
        )
    try:
        envelope = _Envelope.model_validate(document)
    except ValidationError as exc:
        raise KioskStatusRejected(StatusRejection.INVALID,
                                  f"fails the contract at {_where(exc)}") from None
    fields = envelope.model_dump(by_alias=True, exclude={"peripherals"})
    return KioskStatus.model_validate(
        {**fields, "peripherals": {n: _entry(raw) for n, raw in envelope.peripherals.items()}}
    )


def _entry(raw: Any) -> PeripheralStatus:
    """One peripheral's entry; one that breaks the contract is reported alone, as degraded
    `bad-status` (its own code kept when that is well-formed), and the others stand."""
    try:
        return PeripheralStatus.model_validate(raw)
    except ValidationError as exc:
        code = raw.get("code") if isinstance(raw, dict) else None
        well_formed = isinstance(code, str) and _CODE.fullmatch(code) is not None
        return PeripheralStatus(
            state=PeripheralState.DEGRADED, code=code if well_formed else BAD_ENTRY,
            reason=f"the kiosk reported this peripheral outside the contract ({_where(exc)})",
        )


def _where(exc: ValidationError) -> str:
    # Field locations only: the offending values stay out of the log and the fleet.
    where = sorted({redact(".".join(str(part)[:32] for part in e["loc"])) or "(document)"
                    for e in exc.errors()})
    return ", ".join(where[:5])
