"""The kiosk's view of the edge's certification answers (pension qualification, issue 7).

`GET /sessions/{sid}/certification`: whether the citizen's certification is due, in plain words,
with the template of the enrolment photo for the terminal's 1:1 check (kept in memory only,
never logged: the repr says nothing). `POST /sessions/{sid}/certifications`: a receipt, read as
the shared `Receipt` plus what a certification adds (its number, the next due date).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from drivers.face.interface import MAX_TEMPLATE_VALUE, TEMPLATE_SIZE, FaceTemplate
from kiosk.edge.models import Plain, Receipt, _Answer

CitizenId = Annotated[str, StringConstraints(pattern=r"^\d{17}[\dX]$")]
CertificationNo = Annotated[str, StringConstraints(max_length=32,
                                                   pattern=r"^[A-Z0-9-]+$")]
ReasonCode = Annotated[str, StringConstraints(max_length=64)]  # shown via the catalogue only


class CertificationState(StrEnum):
    DUE = "due"
    DONE = "done"  # already certified this cycle
    NOT_DUE = "not-due"
    NOT_PENSIONER = "not-pensioner"
    DECEASED = "deceased"


class CertificationStatus(_Answer):
    status: CertificationState
    reason_code: ReasonCode | None = None
    citizen_id: CitizenId | None = None  # for the signed record; never shown
    due_date: dt.date | None = None
    opens_on: dt.date | None = None
    cycle_months: int = Field(12, ge=1, le=60)
    last_certified_at: AwareDatetime | None = None
    explanation: Plain = ""
    template: tuple[float, ...] | None = None
    as_of: AwareDatetime | None = None
    stale: bool = False
    pending: bool = False  # a certification of this citizen waits in the edge's outbox

    @field_validator("template")
    @classmethod
    def _template_shape(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if len(value) != TEMPLATE_SIZE or any(abs(v) > MAX_TEMPLATE_VALUE for v in value):
            raise ValueError("not a face template")
        return value

    def face_template(self) -> FaceTemplate | None:
        return FaceTemplate(self.template) if self.template is not None else None

    def __repr__(self) -> str:  # the template is biometric data
        return f"CertificationStatus({self.status}, pending={self.pending})"


class CertificationReceipt(Receipt):
    """201 of POST /sessions/{sid}/certifications: a receipt with the certification's fields."""

    certification_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    certified_at: AwareDatetime | None = None
    certification_no: CertificationNo | None = None
    next_due_date: dt.date | None = None

    def __repr__(self) -> str:
        return f"CertificationReceipt({self.receipt_no}, {self.state})"


# The edge's 422 codes for a certification it will not take (api: judgement-failed carries
# the judge's reason). Mapped to the kiosk's failure words, never shown as codes.
JUDGEMENT_FAILED = "judgement-failed"
RECORD_MISMATCH = "record-mismatch"
INVALID_EVIDENCE = "invalid-evidence"
CERTIFICATION_NOT_DUE = "certification-not-due"
CERTIFICATION_PENDING = "certification-pending"
REFUSED_CODES = frozenset({JUDGEMENT_FAILED, RECORD_MISMATCH, INVALID_EVIDENCE,
                           CERTIFICATION_NOT_DUE, CERTIFICATION_PENDING})
