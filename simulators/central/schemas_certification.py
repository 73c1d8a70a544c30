"""Bodies of the pension qualification certification (issue 7): the status and due roster
answers, the signed certification payload of the intake, and their /sim/v1 controls."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from simulators.central.schemas import CitizenIdText
from simulators.central.schemas_services import DeviceId

Status = Literal["due", "done", "not-due", "not-pensioner", "deceased"]
VillageCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{3})?$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
B64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{1,120}={0,2}$")]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
Cursor = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
MAX_ROSTER_PAGE = 200
MAX_BIND = 2000

_STRICT = ConfigDict(extra="forbid")


def _aware_iso(text: str) -> str:
    # Kept as the text the terminal signed; only checked to be an aware ISO 8601 time.
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("a time without its offset")
    return text


IsoTime = Annotated[str, StringConstraints(min_length=20, max_length=40),
                    AfterValidator(_aware_iso)]


# -- requests ----------------------------------------------------------------------------------
class CertificationQuery(BaseModel):
    model_config = _STRICT
    citizen_id: CitizenIdText


class DueQuery(BaseModel):
    model_config = _STRICT
    village: VillageCode
    limit: int = Field(100, ge=1, le=MAX_ROSTER_PAGE)
    after: Cursor | None = None


class CertificationPayload(BaseModel):
    """The signed record of one certification, as the terminal made it. Every field is
    required (null where it may be): the signature covers exactly these keys."""

    model_config = _STRICT
    citizen_id: CitizenIdText
    certified_at: IsoTime
    method: Literal["hall", "field"]
    device_id: DeviceId
    location: Text64
    staff_id: StaffId | None
    evidence_sha256: Sha256Hex
    result: Literal["passed"]
    liveness_version: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,40}$")]
    signature: B64


# -- answers -----------------------------------------------------------------------------------
class CertificationStatusOut(BaseModel):
    status: Status
    reason_code: str | None
    due_date: dt.date | None
    opens_on: dt.date | None
    cycle_months: int
    last_certified_at: str | None
    explanation: str


class CertificationAnswer(CertificationStatusOut):
    as_of: str
    citizen_id: str
    template: list[float] | None


class DueEntry(CertificationStatusOut):
    citizen_id: str
    name: str
    village: str
    template: list[float] | None


class DueAnswer(BaseModel):
    as_of: str
    village: str
    items: list[DueEntry]
    next: str | None


# -- /sim/v1 -----------------------------------------------------------------------------------
class DeviceKeyIn(BaseModel):
    model_config = _STRICT
    public_key: B64


class DeviceKeyOut(BaseModel):
    device_id: str
    registered_at: str


class FacesIn(BaseModel):
    model_config = _STRICT
    identity: Literal["a", "b"]
    citizen_ids: list[CitizenIdText] = Field(min_length=1, max_length=MAX_BIND)
    make_due: bool = False


class FacesOut(BaseModel):
    bound: int
    not_pensioners: int
    unknown: int


class VillageOut(BaseModel):
    village: str
    pensioners: int
    due: int


class VillagesOut(BaseModel):
    items: list[VillageOut]


class CertificationRow(BaseModel):
    seq: int
    certification_no: str
    citizen_index: int
    certified_at: str
    method: str
    device_id: str
    location: str
    staff_id: str | None
    evidence_sha256: str
    liveness_version: str
    signature: str
    received_at: str
    signed: dict[str, Any]  # the record as the terminal signed it (signature included)


class CertificationPage(BaseModel):
    total: int
    items: list[CertificationRow]
