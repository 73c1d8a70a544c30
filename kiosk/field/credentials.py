"""Staff login offline: a staff ID and PIN against the terminal's staff file
(provisioning/staff.py), with an expiry and a lockout after repeated failures.

The lockout is per terminal (any staff ID counts): whoever holds a lost terminal gets
`max_failures` guesses per lockout period, whatever IDs they try. Its state is a tiny JSON file
(failure count, locked-until; no citizen data, no staff PIN). An attempt is counted *before* the
PIN is checked and un-counted on success, so a power cut in the middle of a check costs a
guess, never gives one back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common import staff_file
from common.clock import iso_utc, utc_now
from common.files import write_atomically

log = logging.getLogger(__name__)

MAX_FAILURES = 5
LOCKOUT_S = 30 * 60.0
MAX_STATE_BYTES = 4096

Outcome = Literal["ok", "wrong", "expired", "locked", "unavailable"]


@dataclass(frozen=True)
class LoginCheck:
    outcome: Outcome
    staff_id: str | None = None  # set when ok
    failures_left: int = 0  # after a wrong PIN
    locked_until: dt.datetime | None = None  # when locked

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class _LockState:
    failures: int = 0
    locked_until: dt.datetime | None = None


class LockoutFile:
    """The failure count and lock, persisted atomically (survives a restart or a power cut)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> _LockState:
        try:
            with self.path.open("rb") as fh:
                raw = fh.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return _LockState()
        except OSError:
            log.warning("staff lockout state unreadable: treated as locked")
            return _LockState(MAX_FAILURES, dt.datetime.max.replace(tzinfo=dt.UTC))
        try:
            doc = json.loads(raw)
            failures = int(doc["failures"])
            until = doc.get("locked_until")
            locked_until = (dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
                            if isinstance(until, str) else None)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            # A damaged state file must not reset the count: fail closed.
            log.warning("staff lockout state damaged: treated as locked")
            return _LockState(MAX_FAILURES, dt.datetime.max.replace(tzinfo=dt.UTC))
        return _LockState(max(0, min(failures, 1000)), locked_until)

    def write(self, state: _LockState) -> None:
        doc = {"failures": state.failures,
               "locked_until": None if state.locked_until is None
               else iso_utc(state.locked_until)}
        write_atomically(self.path, json.dumps(doc), mode=0o600)


class StaffCredentials:
    """Checks logins against the staff file; thread-safe (one check at a time)."""

    def __init__(
        self,
        staff_path: Path,
        state_path: Path,
        *,
        max_failures: int = MAX_FAILURES,
        lockout_s: float = LOCKOUT_S,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.staff_path = staff_path
        self.lockout = LockoutFile(state_path)
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock
        self._lock = threading.Lock()

    def locked_until(self) -> dt.datetime | None:
        state = self.lockout.read()
        if state.locked_until is not None and self._clock() < state.locked_until:
            return state.locked_until
        return None

    def check(self, staff_id: str, pin: str) -> LoginCheck:
        with self._lock:
            return self._check(staff_id, pin)

    def _check(self, staff_id: str, pin: str) -> LoginCheck:
        now = self._clock()
        state = self.lockout.read()
        if state.locked_until is not None:
            if now < state.locked_until:
                return LoginCheck("locked", locked_until=state.locked_until)
            state = _LockState()  # the lock has run out: a fresh count
        try:
            creds = staff_file.load(self.staff_path)
        except staff_file.StaffFileError as exc:
            log.error("field staff file unusable: %s", exc)
            return LoginCheck("unavailable")
        # Counted first (see the module doc).
        state.failures += 1
        self.lockout.write(state)
        cred = creds.get(staff_id)
        # An unknown ID costs the same hash as a known one: no timing tells them apart.
        matched = cred.matches(pin) if cred is not None else _burn(pin)
        if matched and cred is not None:
            self.lockout.write(_LockState())
            if cred.expired(now):
                log.info("staff %s: credential expired", staff_id)
                return LoginCheck("expired", staff_id=None)
            log.info("staff %s logged in", staff_id)
            return LoginCheck("ok", staff_id=cred.staff_id)
        if state.failures >= self.max_failures:
            state.locked_until = now + dt.timedelta(seconds=self.lockout_s)
            self.lockout.write(state)
            log.warning("field staff login locked until %s after %d failures",
                        iso_utc(state.locked_until), state.failures)
            return LoginCheck("locked", locked_until=state.locked_until)
        return LoginCheck("wrong", failures_left=self.max_failures - state.failures)


_DUMMY_SALT = b"\0" * 16


def _burn(pin: str) -> bool:
    """The cost of one check, for an unknown staff ID."""
    staff_file.hash_pin(pin if staff_file.PIN.fullmatch(pin) else "000000", _DUMMY_SALT,
                        staff_file.DEFAULT_N)
    return False
