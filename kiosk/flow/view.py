"""What the screen should show now: an immutable snapshot the UI renders and tests inspect.

Each journey's own content rides in `content` (its payload and paging), so the View does not
grow a field for every journey.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.flow.prefs import Preferences
from kiosk.flow.screens import Action, ScreenName


class Tone(StrEnum):
    INFO = "info"  # advice, nothing went wrong on the citizen's side
    WAIT = "wait"  # we are retrying by ourselves
    PROBLEM = "problem"  # something needs the citizen or staff to act


@dataclass(frozen=True)
class Notice:
    """A message screen's content: an i18n key (`<key>.title`, `<key>.body`) and its buttons."""

    key: str
    tone: Tone = Tone.PROBLEM
    retrying: bool = False
    actions: tuple[Action, ...] = ()
    # True when the card is already out (pulled mid-read): keep the advice on screen after
    # the CardRemoved event instead of jumping back to the attract screen.
    keep_after_removal: bool = False
    journey: str | None = None  # a service the notice offers (e.g. reversing a loss report)
    # Other ways of identifying the notice offers (the card cannot be used: "qr", "idcard").
    ways: tuple[str, ...] = ()
    # Words that are not the catalogue's, shown under the body as given (maintenance's reason,
    # typed by an operator; never citizen data).
    detail: str = ""


@dataclass(frozen=True)
class Content:
    """One journey's payload on its screen: `data` is what the journey loaded (e.g. Benefits)."""

    journey: str
    data: object = field(repr=False)
    page: int = 0  # 0-based
    page_count: int = 1


@dataclass(frozen=True)
class View:
    screen: ScreenName
    notice: Notice | None = None
    session_active: bool = False
    display_name: str = ""
    as_of: dt.datetime | None = None
    stale: bool = False
    content: Content | None = field(default=None, repr=False)
    journeys: tuple[str, ...] = ()  # the services offered on the home screen, in order
    walk_up: tuple[str, ...] = ()  # services the attract screen offers without a card
    idle_seconds_left: int | None = None  # set while the "are you still there?" warning shows
    unavailable: frozenset[str] = frozenset()  # identification methods whose device is gone
    methods: tuple[str, ...] = ()  # the identification methods this terminal has, in order
    session_method: str | None = None  # how the citizen in session identified ("card", "qr")
    identifying_by: str | None = None  # the method being asked about while identifying
    prefs: Preferences = field(default_factory=Preferences)  # mode, language, sound (prefs.py)

    @property
    def reader_available(self) -> bool:
        return "card" not in self.unavailable

    def offers(self, method: str) -> bool:
        """This terminal identifies by `method` and its device is there now."""
        return method in self.methods and method not in self.unavailable

    def __repr__(self) -> str:  # views are logged on transitions: no citizen data in them
        return (
            f"View(screen={self.screen}, notice={self.notice.key if self.notice else None},"
            f" session_active={self.session_active}, idle={self.idle_seconds_left})"
        )
