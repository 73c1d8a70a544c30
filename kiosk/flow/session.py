"""Sessions, held in memory only and wiped when they end.

Two levels, so that field mode (a staff member serving a village, one citizen after another)
needs no special case: an `OperatorSession` holds a sequence of citizen `Session`s, one at a
time. A self-service hall terminal runs one anonymous operator session (operator None) for the
life of the process; a staff login will open a named one. The flow only ever deals with
"the operator session's current citizen".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk.edge.models import SessionOpened


@dataclass
class Session:
    """What the kiosk knows about the citizen in front of it. Never written anywhere.

    `content` holds each journey's payload by journey key (benefits, and later others).
    `wipe()` drops every reference the session holds. Python cannot zero string memory, so the
    guarantee is "unreachable and collectable", and that nothing was ever persisted.
    """

    session_id: str
    display_name: str  # masked by the edge ("张*")
    method: str = "card"  # how the citizen identified (kiosk.flow.identify)
    as_of: dt.datetime | None = None
    stale: bool = False
    content: dict[str, object] = field(default_factory=dict)
    wiped: bool = False

    @classmethod
    def from_opened(cls, opened: SessionOpened, method: str) -> Session:
        return cls(
            session_id=opened.session_id,
            display_name=opened.citizen.display_name,
            method=method,
            as_of=opened.as_of,
            stale=opened.stale,
        )

    def wipe(self) -> None:
        self.session_id = ""
        self.display_name = ""
        self.as_of = None
        self.stale = False
        self.content.clear()
        self.wiped = True

    def __repr__(self) -> str:  # no name, no session id (it is a bearer of the citizen's data)
        return f"Session(method={self.method}, wiped={self.wiped}, stale={self.stale})"


@dataclass
class OperatorSession:
    """One operator's stint at the terminal: citizens served one after another.

    `operator` is None on a self-service terminal (nobody logs in). `served` counts the
    citizen sessions that have ended in it; their data is gone, only the count remains.
    """

    operator: str | None = None
    citizen: Session | None = None
    served: int = 0

    def begin(self, citizen: Session) -> None:
        """A citizen is identified. Any earlier one is ended first: one citizen at a time."""
        self.end_citizen()
        self.citizen = citizen

    def end_citizen(self) -> Session | None:
        """Wipe the current citizen's session; returns it (wiped) or None."""
        citizen, self.citizen = self.citizen, None
        if citizen is not None:
            citizen.wipe()
            self.served += 1
        return citizen

    def __repr__(self) -> str:
        return (f"OperatorSession(staff={self.operator is not None}, served={self.served},"
                f" citizen={self.citizen is not None})")
