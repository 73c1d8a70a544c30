"""One citizen's service session, held in memory only and wiped when it ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk.edge_models import Benefits, SessionOpened


@dataclass
class Session:
    """What the kiosk knows about the citizen in front of it. Never written anywhere.

    `wipe()` drops every reference the session holds. Python cannot zero string memory, so the
    guarantee is "unreachable and collectable", and that nothing was ever persisted.
    """

    session_id: str
    display_name: str  # masked by the edge ("张*")
    as_of: dt.datetime | None = None
    stale: bool = False
    benefits: Benefits | None = None
    wiped: bool = False

    @classmethod
    def from_opened(cls, opened: SessionOpened) -> Session:
        return cls(
            session_id=opened.session_id,
            display_name=opened.citizen.display_name,
            as_of=opened.as_of,
            stale=opened.stale,
        )

    def wipe(self) -> None:
        self.session_id = ""
        self.display_name = ""
        self.as_of = None
        self.stale = False
        self.benefits = None
        self.wiped = True

    def __repr__(self) -> str:  # no name, no session id (it is a bearer of the citizen's data)
        return f"Session(wiped={self.wiped}, stale={self.stale})"
