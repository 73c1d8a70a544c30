"""Waiting on a state that another process owns: a deadline-bounded poll of a condition.

Used where nothing pushes the change to the test (a REST view of the fleet manager, a row in a
database). Where an event exists (driver observers, the kiosk's /automation/wait), wait on that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    timeout: float = 20.0,
    interval: float = 0.05,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    pace = threading.Event()  # paces the poll; never used to signal anything
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        pace.wait(interval)
    extra = f"\n{diagnostics()}" if diagnostics else ""
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}{extra}")
