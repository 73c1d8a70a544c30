"""What the flow asks the outside world to do, as frozen data (the Elm shape, house style 11).

The core decides; `kiosk.flow.runtime.EffectRunner` performs. Tests can read the effects a
step produced without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.edge.models import Credential
from kiosk.flow.journeys.base import Call


@dataclass(frozen=True)
class OpenSession:
    """POST /sessions for an identified citizen. `key` is the same on every retry."""

    request: int
    key: str
    method: str
    credential: Credential = field(repr=False)

    kind = "open"


@dataclass(frozen=True)
class JourneyCall:
    """An edge call a journey step asked for; retried as this same effect (the same key)."""

    request: int
    journey: str
    call: Call

    @property
    def kind(self) -> str:
        return self.call.name


@dataclass(frozen=True)
class EndRemote:
    """DELETE the session at the edge, best effort, with a key of its own."""

    session_id: str = field(repr=False)
    key: str = ""


Request = OpenSession | JourneyCall
Effect = OpenSession | JourneyCall | EndRemote
