"""Events the flow reacts to besides the peripherals' own (drivers.*.interface).

Device events (card inserted, read, removed, health) are interpreted by the identification
methods (kiosk.flow.identify); these come from the screen, the edge worker and the timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.flow.ports import Outcome
from kiosk.flow.screens import Action


@dataclass(frozen=True)
class Tap:
    """A button was pressed. `journey` names the service for `Action.START_JOURNEY`; `value`
    is what a journey step's button carries (a row index, a keypad character)."""

    action: Action
    journey: str | None = None
    value: str | None = field(default=None, repr=False)  # a PIN digit must not reach a log


@dataclass(frozen=True)
class Activity:
    """Any touch on the screen (scrolling, a missed button): the citizen is still there."""


@dataclass(frozen=True)
class EdgeAnswered:
    """A worker finished an edge call. `request` ties it to the request that asked for it, so
    that a late answer for a citizen who has already left is recognised and never shown."""

    request: int
    kind: str
    outcome: Outcome[object] = field(repr=False)


@dataclass(frozen=True)
class RetryDue:
    request: int


@dataclass(frozen=True)
class BusyDue:
    """The edge has not answered within FlowConfig.busy_delay_s: show the busy screen
    (loading, identifying) now. A fast answer never shows it: no spinner flash."""

    generation: int


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


@dataclass(frozen=True)
class PreferencesExpired:
    """A choice made on the attract screen (English, normal mode) by someone who then walked
    away without starting: the next person must not inherit it."""

    generation: int


@dataclass(frozen=True)
class MaintenanceSet:
    """The fleet turned maintenance on or off (kiosk.status_server, POST /control/maintenance).

    On: the out-of-service notice shows as soon as no citizen is being served (a session open
    now is never cut). `reason` is the operator's plain words, shown on that notice.
    """

    on: bool
    reason: str = ""


FlowEvent = (Tap | Activity | EdgeAnswered | RetryDue | BusyDue | IdleWarning | IdleTick
             | MessageExpired | PreferencesExpired | MaintenanceSet)
