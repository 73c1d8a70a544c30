"""A journey (a service) as a frozen descriptor plus a small step machine of its own.

The core (kiosk.flow.core) has no journey-specific code: it starts a journey's `Steps`, hands
it the taps made on the journey's screens and the answers to the edge calls it asked for, and
shows what it says it shows. The core keeps what every journey shares: the session, idle,
notices, retries (the same `Call`, so the same Idempotency-Key, on every retry) and the stale
guard. Adding a journey is its module here and one line in `JOURNEYS`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from kiosk.edge.models import Credential
from kiosk.flow.events import Tap
from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import Action, ScreenName

# What this terminal and its edge can do ("printer", "edge.social-insurance-proof", ...).
# The peripheral registry and the edge's health will fill it; journeys say what they need.
Capabilities = frozenset[str]


def always(_capabilities: Capabilities) -> bool:
    return True


class Entry(StrEnum):
    HOME = "home"  # a service of the citizen's session, on the services menu
    ATTRACT = "attract"  # without a card (a lost one): from the attract screen, no session
    # Offered by the notice that refused a token (a card reported lost), with the token still
    # present and no session: JourneyContext.token is what it proves.
    REFUSAL = "refusal"


@dataclass(frozen=True)
class Call:
    """An edge call a step asks for, run on a worker. `key` is the Idempotency-Key of a
    state-changing call: made once by the step machine, so every retry carries the same one.

    `run` closes over what the call sends (a PIN, for a loss report): it is neither shown in a
    repr nor compared; the step machine drops its Call once it has been answered.
    """

    name: str  # for logs and EdgeAnswered.kind ("subsidies", "apply", ...)
    run: Callable[[EdgePort], object] = field(repr=False, compare=False)
    key: str | None = field(default=None, repr=False)
    busy: ScreenName = ScreenName.LOADING  # what shows while it runs

    @property
    def submits(self) -> bool:
        return self.key is not None


@dataclass(frozen=True)
class Leave:
    """The journey is over: back to where it started (home, or attract without a session)."""


LEAVE = Leave()
# What a step machine answers: a call to make, leave, or None (show its current screen).
Step = Call | Leave | None


@dataclass(frozen=True)
class Shown:
    """What a journey shows now: its screen and the data the screen renders."""

    screen: ScreenName
    data: object = field(repr=False)
    page: int = 0  # 0-based
    page_count: int = 1
    # The freshness of `data`; `fresh` False means it says nothing (the session's is shown).
    as_of: dt.datetime | None = None
    stale: bool = False
    fresh: bool = False


@dataclass(frozen=True)
class JourneyContext:
    session_id: str | None = field(repr=False)  # None for journeys without a session
    new_key: Callable[[], str]
    page_size: int
    token: Credential | None = field(default=None, repr=False)  # Entry.REFUSAL's
    method: str | None = None  # how the citizen in session identified ("card", "qr", ...)


class Steps(Protocol):
    """One running journey, for one citizen: in memory only, wiped when it ends."""

    def begin(self) -> Step: ...

    def shown(self) -> Shown: ...

    def on_tap(self, tap: Tap) -> Step:
        """A tap on the journey's screen (any but END, which the core handles)."""
        ...

    def on_answer(self, call: Call, value: object) -> Step:
        """The edge answered `call` (validated data)."""
        ...

    def wipe(self) -> None: ...


@dataclass(frozen=True)
class Journey:
    key: str  # also its i18n prefix ("home.<key>", "<key>.title")
    home_target: str  # automation id of its button on the services menu (or attract)
    screens: tuple[ScreenName, ...]  # the screens its steps show
    start: Callable[[JourneyContext], Steps]
    entry: Entry = Entry.HOME
    has_fn: Callable[[Capabilities], bool] = always
    offer_on: tuple[str, ...] = ()  # Entry.REFUSAL: the notices (message keys) offering it
    # The ways of identifying whose sessions it serves (None: any). A PIN on the card needs a
    # session opened by the card, not by a QR code or an ID card.
    methods: tuple[str, ...] | None = None

    def serves(self, method: str | None) -> bool:
        return self.methods is None or method in self.methods

    @property
    def screen(self) -> ScreenName:
        return self.screens[0]


# Helpers the journeys share ---------------------------------------------------------------

def page_count(rows: int, page_size: int) -> int:
    return max(1, math.ceil(rows / max(page_size, 1)))


def turned(page: int, tap: Tap, pages: int) -> int | None:
    """The page a paging tap leads to, or None when `tap` does not page."""
    if tap.action is Action.NEXT_PAGE:
        return min(page + 1, pages - 1)
    if tap.action is Action.PREVIOUS_PAGE:
        return max(page - 1, 0)
    return None


def chosen(tap: Tap, count: int) -> int | None:
    """The row a CHOOSE tap picked (its value is the row's index), if it is one of `count`."""
    if tap.action is not Action.CHOOSE or tap.value is None or not tap.value.isdigit():
        return None
    index = int(tap.value)
    return index if index < count else None


Freshness = Callable[[object], tuple[dt.datetime | None, bool]]


class LoadAndShow:
    """The steps of a read-only journey: load once, show it in pages, BACK leaves."""

    def __init__(self, ctx: JourneyContext, name: str, screen: ScreenName,
                 load: Callable[[EdgePort, str], object], freshness: Freshness,
                 rows: Callable[[object], int]) -> None:
        assert ctx.session_id is not None, "a load-and-show journey needs a session"
        self._session_id = ctx.session_id
        self._page_size = ctx.page_size
        self._name, self._screen = name, screen
        self._load, self._freshness, self._rows = load, freshness, rows
        self._data: object = None
        self._page = 0

    def begin(self) -> Step:
        session_id, load = self._session_id, self._load
        return Call(self._name, lambda edge: load(edge, session_id))

    def on_answer(self, call: Call, value: object) -> Step:
        self._data, self._page = value, 0
        return None

    def _pages(self) -> int:
        return page_count(self._rows(self._data), self._page_size) if self._data else 1

    def on_tap(self, tap: Tap) -> Step:
        if tap.action is Action.BACK:
            return LEAVE
        page = turned(self._page, tap, self._pages())
        if page is not None:
            self._page = page
        return None

    def shown(self) -> Shown:
        as_of, stale = self._freshness(self._data) if self._data is not None else (None, False)
        return Shown(self._screen, self._data, self._page, self._pages(), as_of, stale,
                     fresh=self._data is not None)

    def wipe(self) -> None:
        self._data = None
        self._session_id = ""


def load_and_show(name: str, screen: ScreenName, load: Callable[[EdgePort, str], object],
                  freshness: Freshness,
                  rows: Callable[[object], int]) -> Callable[[JourneyContext], Steps]:
    """A `Journey.start` for a read-only journey (benefits)."""
    return lambda ctx: LoadAndShow(ctx, name, screen, load, freshness, rows)
