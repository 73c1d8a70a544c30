"""The kiosk's own view of the edge API's answers (docs/contracts/edge-api.md).

Kept separate from edge_server's models on purpose: the kiosk must not import the server, and
`tests/contracts/` checks that both sides agree. Unknown fields are ignored so that the edge can
add fields without breaking terminals that have not been updated yet.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


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
    display_name: str  # already masked by the edge ("张*"); the full name never comes back
    gender: str | None = None
    age: int | None = None
    card_status: str = "normal"

    def __repr__(self) -> str:  # keep even the masked name out of stray log lines
        return f"Citizen(card_status={self.card_status})"


class SessionOpened(_Answer):
    session_id: str
    expires_at: dt.datetime | None = None
    citizen: Citizen
    as_of: dt.datetime | None = None
    stale: bool = False

    def __repr__(self) -> str:
        return f"SessionOpened(stale={self.stale})"


class Participation(_Answer):
    scheme: str  # employee-pension, resident-pension, medical, unemployment, work-injury
    scheme_name: str = ""
    status: str  # contributing, receiving, suspended, ended
    since: str | None = None  # "YYYY-MM"


class PensionPayment(_Answer):
    period: str  # "YYYY-MM"
    amount: Decimal  # yuan; sent as a decimal string so that no float rounding creeps in
    paid_on: dt.date | None = None
    status: str
    bank: str | None = None
    account_masked: str | None = None


class Benefits(_Answer):
    as_of: dt.datetime | None = None
    stale: bool = False
    participation: tuple[Participation, ...] = ()
    pension_payments: tuple[PensionPayment, ...] = ()  # newest first, at most 24 months

    def __repr__(self) -> str:
        return (
            f"Benefits(stale={self.stale}, participation={len(self.participation)},"
            f" payments={len(self.pension_payments)})"
        )


class EdgeHealth(_Answer):
    status: str
    version: str = ""
    central: str = "unknown"

    def __repr__(self) -> str:  # no citizen data here
        return f"EdgeHealth(status={self.status}, version={self.version}, central={self.central})"
