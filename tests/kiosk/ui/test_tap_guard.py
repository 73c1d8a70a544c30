"""The tap guard: a double tap's second touch must not reach the next screen's buttons."""

from __future__ import annotations

import pytest

from kiosk.ui.tap_guard import TapGuard


class Now:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_taps_are_held_off_only_just_after_a_change() -> None:
    now = Now()
    guard = TapGuard(0.5, now)
    assert guard.remaining() == 0  # nothing shown yet: nothing to protect

    guard.shown(("benefits", None, False))
    assert guard.remaining() == pytest.approx(0.5)
    now.t += 0.3
    assert guard.remaining() == pytest.approx(0.2)
    now.t += 0.2
    assert guard.remaining() == 0


def test_re_rendering_the_same_layer_does_not_restart_the_guard() -> None:
    now = Now()
    guard = TapGuard(0.5, now)
    guard.shown(("home", None, True))
    now.t += 1
    guard.shown(("home", None, True))  # a countdown tick of the idle warning
    assert guard.remaining() == 0
    guard.shown(("home", None, False))  # the warning went away: the buttons under it changed
    assert guard.remaining() == pytest.approx(0.5)
