"""The staff session: one staff member logged in on a field terminal, spanning many citizens.

It ends at its expiry (`max_s` after login, e.g. a working day), after `idle_s` without
activity, or on logout; it lives in the kiosk process's memory only, so a power cut or a lost
terminal ends it too (the staff member logs in again). Every citizen certified in it names its
staff ID.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.field.credentials import LoginCheck, StaffCredentials

DEFAULT_MAX_S = 10 * 3600.0
DEFAULT_IDLE_S = 15 * 60.0


@dataclass(frozen=True)
class StaffSession:
    staff_id: str
    started_s: float  # monotonic
    expires_s: float  # monotonic
    citizens: int = 0  # certified in this session


class StaffSessions:
    def __init__(
        self,
        credentials: StaffCredentials,
        *,
        max_s: float = DEFAULT_MAX_S,
        idle_s: float = DEFAULT_IDLE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.max_s = max_s
        self.idle_s = idle_s
        self._now = monotonic
        self._lock = threading.Lock()
        self._session: StaffSession | None = None
        self._last_activity = 0.0

    def login(self, staff_id: str, pin: str) -> LoginCheck:
        """Check the PIN (counted by the lockout); on success a new session replaces any."""
        check = self.credentials.check(staff_id, pin)
        if check.ok and check.staff_id is not None:
            now = self._now()
            with self._lock:
                self._session = StaffSession(check.staff_id, now, now + self.max_s)
                self._last_activity = now
        return check

    def current(self) -> StaffSession | None:
        """The live session, or None (none, expired, idle: then it is ended here)."""
        now = self._now()
        with self._lock:
            found = self._session
            if found is None:
                return None
            if now >= found.expires_s or now - self._last_activity >= self.idle_s:
                self._session = None
                return None
            return found

    def touch(self) -> StaffSession | None:
        """Activity (a tap, a citizen served): the idle timer starts again."""
        found = self.current()
        if found is not None:
            with self._lock:
                self._last_activity = self._now()
        return found

    def certified_one(self) -> StaffSession | None:
        found = self.touch()
        if found is None:
            return None
        with self._lock:
            if self._session is not None:
                self._session = StaffSession(found.staff_id, found.started_s, found.expires_s,
                                             found.citizens + 1)
            return self._session

    def logout(self) -> None:
        with self._lock:
            self._session = None
