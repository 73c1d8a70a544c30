"""What the screen should show now: an immutable snapshot the UI renders and tests inspect."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.edge_models import Benefits
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


@dataclass(frozen=True)
class View:
    screen: ScreenName
    notice: Notice | None = None
    session_active: bool = False
    display_name: str = ""
    as_of: dt.datetime | None = None
    stale: bool = False
    benefits: Benefits | None = field(default=None, repr=False)
    page: int = 0  # benefits page, 0-based
    page_count: int = 0
    idle_seconds_left: int | None = None  # set while the "are you still there?" warning shows
    reader_available: bool = True

    def __repr__(self) -> str:  # views are logged on transitions: no citizen data in them
        return (
            f"View(screen={self.screen}, notice={self.notice.key if self.notice else None},"
            f" session_active={self.session_active}, idle={self.idle_seconds_left})"
        )
