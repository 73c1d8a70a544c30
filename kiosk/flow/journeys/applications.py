"""Where my applications stand: the list (with submissions still queued at the edge), then
one application's history, from submission to the bank transfer or its return."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.edge.models import Application, Applications
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import (
    LEAVE,
    Call,
    Journey,
    JourneyContext,
    Shown,
    Step,
    always,
    chosen,
    page_count,
    turned,
)
from kiosk.flow.screens import Action, ScreenName

PER_PAGE = 4  # applications a page: each row is a button with its name, status and date


@dataclass(frozen=True)
class ApplicationList:
    applications: Applications
    page: int = 0
    per_page: int = PER_PAGE

    @property
    def rows(self) -> tuple[tuple[int, Application], ...]:
        start = self.page * self.per_page
        return tuple(enumerate(self.applications.items[start:start + self.per_page], start))


class ApplicationsSteps:
    def __init__(self, ctx: JourneyContext) -> None:
        assert ctx.session_id is not None, "the applications list needs the citizen's session"
        self._session_id = ctx.session_id
        self._data: Applications | None = None
        self._page = 0
        self._open: Application | None = None

    def begin(self) -> Step:
        session_id = self._session_id
        return Call("applications", lambda edge: edge.get_applications(session_id))

    def on_answer(self, call: Call, value: object) -> Step:
        if isinstance(value, Applications):
            self._data, self._page, self._open = value, 0, None
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._open is not None:
            if tap.action is Action.BACK:
                self._open = None
            return None
        if tap.action is Action.BACK:
            return LEAVE
        items = self._data.items if self._data is not None else ()
        page = turned(self._page, tap, page_count(len(items), PER_PAGE))
        if page is not None:
            self._page = page
        index = chosen(tap, len(items))
        if index is not None:
            self._open = items[index]
        return None

    def shown(self) -> Shown:
        data = self._data
        as_of, stale = (data.as_of, data.stale) if data is not None else (None, False)
        if self._open is not None:
            return Shown(ScreenName.APPLICATION, self._open, as_of=as_of, stale=stale,
                         fresh=True)
        pages = page_count(len(data.items), PER_PAGE) if data is not None else 1
        return Shown(ScreenName.APPLICATIONS,
                     ApplicationList(data, self._page) if data is not None else None,
                     self._page, pages, as_of, stale, fresh=data is not None)

    def wipe(self) -> None:
        self._data = self._open = None
        self._session_id = ""


APPLICATIONS = Journey(
    key="applications",
    home_target="home.applications",
    screens=(ScreenName.APPLICATIONS, ScreenName.APPLICATION),
    start=ApplicationsSteps,
    has_fn=always,
)
