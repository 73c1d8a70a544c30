"""What the flow asks the outside world to do, as frozen data (the Elm shape, house style 11).

The core decides; `kiosk.flow.runtime.EffectRunner` performs. Tests can read the effects a
step produced without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.edge.models import Credential


@dataclass(frozen=True)
class OpenSession:
    """POST /sessions for an identified citizen. `key` is the same on every retry."""

    request: int
    key: str
    method: str
    credential: Credential = field(repr=False)

    kind = "open"


@dataclass(frozen=True)
class LoadJourney:
    """Fetch a journey's payload for the current session (a GET: no key needed)."""

    request: int
    journey: str
    session_id: str = field(repr=False)

    @property
    def kind(self) -> str:
        return self.journey


@dataclass(frozen=True)
class EndRemote:
    """DELETE the session at the edge, best effort, with a key of its own."""

    session_id: str = field(repr=False)
    key: str = ""


Request = OpenSession | LoadJourney
Effect = OpenSession | LoadJourney | EndRemote
