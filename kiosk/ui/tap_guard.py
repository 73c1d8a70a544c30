"""Taps that land just after the screen changed are not taken (no Kivy here: unit-testable).

Elderly users often tap twice, or hold a trembling finger on the glass. The first tap changes
the screen; the second lands on whatever button of the *next* screen is under the finger, such
as "结束办理，退卡" on the home screen where "返回" was on the benefits screen, and would end
the session. No one can read a new screen and decide within half a second, so nothing is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

TAP_GUARD_S = 0.5


class TapGuard:
    """`shown(layer)` on every render; `remaining()` > 0 while taps are to be ignored.

    A layer is whatever decides which buttons are under the finger: the screen, the message on
    it, and whether the idle warning covers it. Re-rendering the same layer (a countdown tick,
    a page turn) does not restart the guard, so "next page, next page" still works.
    """

    def __init__(self, hold_s: float = TAP_GUARD_S,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._hold_s = hold_s
        self._now = now
        self._layer: Hashable = None
        self._since = float("-inf")

    def shown(self, layer: Hashable) -> None:
        if layer != self._layer:
            self._layer = layer
            self._since = self._now()

    def remaining(self) -> float:
        return max(0.0, self._hold_s - (self._now() - self._since))
