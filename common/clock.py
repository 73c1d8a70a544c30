"""Clocks: the one home of "now" for every part, and China Standard Time for what citizens see.

Code that needs the time takes a `Clock` (a zero-argument callable) so that tests move time
instead of sleeping; `utc_now` is the production one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

# China has one time zone, UTC+8, with no daylight saving time since 1991: a fixed offset is
# exact and needs no tz database on the terminal.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

Clock = Callable[[], dt.datetime]
Monotonic = Callable[[], float]


def utc_now() -> dt.datetime:
    """An aware datetime in UTC."""
    return dt.datetime.now(dt.UTC)


def china_now() -> dt.datetime:
    return utc_now().astimezone(CHINA_TZ)


def to_china(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give every time with its tzinfo")
    return moment.astimezone(CHINA_TZ)


def iso_utc(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a 'Z', second precision: the wire form of every timestamp."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give every time with its tzinfo")
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


monotonic: Monotonic = time.monotonic


class Deadline:
    """A total time budget for one operation, read from a monotonic clock.

    Per-read timeouts let a peer that trickles one byte at a time hold a call for ever; a
    deadline bounds the whole call, however many reads it takes.
    """

    __slots__ = ("_clock", "expires_at")

    def __init__(self, seconds: float, clock: Monotonic = time.monotonic) -> None:
        self._clock = clock
        self.expires_at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self.expires_at
