"""The screen the UI is showing now, readable from any thread and waitable without polling."""

from __future__ import annotations

import threading


class ScreenWatch:
    """Updated by the UI thread after each screen change; read by the status server's threads.

    `wait_for` blocks on a Condition, so `/automation/wait` wakes the moment the screen changes.
    """

    def __init__(self, screen: str = "starting") -> None:
        self._cond = threading.Condition()
        self._screen = screen
        self._session_active = False
        self._changes = 0

    def update(self, screen: str, session_active: bool) -> None:
        with self._cond:
            if screen != self._screen:
                self._changes += 1
            self._screen = screen
            self._session_active = session_active
            self._cond.notify_all()

    @property
    def screen(self) -> str:
        with self._cond:
            return self._screen

    @property
    def session_active(self) -> bool:
        with self._cond:
            return self._session_active

    @property
    def changes(self) -> int:
        with self._cond:
            return self._changes

    def wait_for(self, screen: str, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._screen == screen, timeout=timeout_s)
