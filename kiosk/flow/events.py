"""Events the flow reacts to besides the card driver's own (drivers.card.interface).

Card events (CardInserted, CardRead, CardReadFailed, CardRemoved) and HealthChanged come from the
driver through the hardware bridge; these come from the screen, the edge worker and the timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.flow.ports import Outcome
from kiosk.flow.screens import Action


@dataclass(frozen=True)
class Tap:
    """A button was pressed."""

    action: Action


@dataclass(frozen=True)
class Activity:
    """Any touch on the screen (scrolling, a missed button): the citizen is still there."""


@dataclass(frozen=True)
class EdgeAnswered:
    """A worker finished an edge call. `request` ties it to the request that asked for it, so
    that a late answer for a card that has already left is recognised and never shown."""

    request: int
    kind: str
    outcome: Outcome[object] = field(repr=False)


@dataclass(frozen=True)
class RetryDue:
    request: int


@dataclass(frozen=True)
class IdleWarning:
    """The idle warning starts (idle_timeout - idle_warning seconds after the last activity)."""

    generation: int


@dataclass(frozen=True)
class IdleTick:
    """One second of the warning's countdown has passed; at zero the session ends."""

    generation: int


@dataclass(frozen=True)
class MessageExpired:
    generation: int


FlowEvent = Tap | Activity | EdgeAnswered | RetryDue | IdleWarning | IdleTick | MessageExpired
