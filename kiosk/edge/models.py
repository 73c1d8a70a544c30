"""The kiosk's own view of the edge API (docs/contracts/edge-api.md): what it sends, what it reads.

Kept separate from edge_server's models on purpose: the kiosk must not import the server, and
`tests/contracts/` checks that both sides agree. Unknown fields are ignored so that the edge can
add fields without breaking terminals that have not been updated yet; every field the kiosk does
read is bounded and ranged, because an answer is data from a peer and is checked before it is
shown (a wrong amount on a pensioner's screen is worse than "please try later").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# -- bounds of what is shown ------------------------------------------------------------------
Short = Annotated[str, StringConstraints(max_length=64)]
Label = Annotated[str, StringConstraints(max_length=128)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                             pattern=r"^[A-Za-z0-9_-]+$")]
# "YYYY-MM" with a real month: a period is shown as 2026年10月.
Period = Annotated[str, StringConstraints(pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$")]
# Yuan, two decimals at most; the largest pension paid in China is far below this bound.
Amount = Annotated[Decimal, Field(ge=Decimal("-1000000"), le=Decimal("1000000"),
                                  max_digits=12, decimal_places=2)]
MAX_PAYMENTS = 60  # the contract promises at most 24 months; some slack, not unbounded
MAX_SCHEMES = 16


@dataclass(frozen=True, repr=False)
class Credential:
    """How a citizen identified, as POST /sessions wants it: the method and only the fields the
    edge uses (data minimisation: the rest of what a card holds never leaves the terminal)."""

    method: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"method": self.method, self.method: dict(self.fields)}

    def __repr__(self) -> str:  # the fields are personal data
        return f"Credential(method={self.method}, fields={sorted(self.fields)})"


class _Answer(BaseModel):
    """Answers hold citizen data: `repr()` and `str()` name the model and no values.

    pydantic's `str()` does not go through `__repr__`, so both are overridden here; models that
    have something harmless to show (counts, flags) override `__repr__` only.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(…)"

    def __str__(self) -> str:
        return repr(self)


class Citizen(_Answer):
    # Already masked by the edge ("张*"); the full name never comes back.
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    gender: Short | None = None
    age: int | None = Field(None, ge=0, le=150)
    card_status: Short = "normal"

    def __repr__(self) -> str:  # keep even the masked name out of stray log lines
        return f"Citizen(card_status={self.card_status})"


class SessionOpened(_Answer):
    session_id: SessionId
    expires_at: AwareDatetime | None = None  # the contract sends UTC with Z
    citizen: Citizen
    as_of: AwareDatetime | None = None  # the contract sends UTC with Z
    stale: bool = False

    def __repr__(self) -> str:
        return f"SessionOpened(stale={self.stale})"


class Participation(_Answer):
    scheme: Short  # employee-pension, resident-pension, medical, unemployment, work-injury
    scheme_name: Label = ""
    status: Short  # contributing, receiving, suspended, ended
    since: Period | None = None


class PensionPayment(_Answer):
    period: Period
    amount: Amount  # sent as a decimal string so that no float rounding creeps in
    paid_on: dt.date | None = None
    status: Short
    bank: Label | None = None
    account_masked: Short | None = None


class Benefits(_Answer):
    as_of: AwareDatetime | None = None  # the contract sends UTC with Z
    stale: bool = False
    participation: tuple[Participation, ...] = Field((), max_length=MAX_SCHEMES)
    pension_payments: tuple[PensionPayment, ...] = Field((), max_length=MAX_PAYMENTS)

    def __repr__(self) -> str:
        return (
            f"Benefits(stale={self.stale}, participation={len(self.participation)},"
            f" payments={len(self.pension_payments)})"
        )


class EdgeHealth(_Answer):
    status: Short
    version: Short = ""
    central: Short = "unknown"

    def __repr__(self) -> str:  # no citizen data here
        return f"EdgeHealth(status={self.status}, version={self.version}, central={self.central})"


class DeviceTokenIssued(_Answer):
    """POST /device/token: a fresh credential for this terminal. The token is a secret: it is
    in neither repr() nor str(); kiosk.edge.credentials checks it against what it says."""

    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    expires_at: AwareDatetime

    def __repr__(self) -> str:
        return f"DeviceTokenIssued(device_id={self.device_id}, expires_at={self.expires_at})"
