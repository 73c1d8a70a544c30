"""The idle countdown and the hold timer on a manual clock (kiosk.flow.timers)."""

from __future__ import annotations

import pytest

from kiosk.flow.events import FlowEvent, IdleTick, IdleWarning, MessageExpired, PreferencesExpired
from kiosk.flow.timers import HoldTimer, IdleCountdown
from tests.kiosk.fakes import ManualClock


def test_the_countdown_warns_after_the_quiet_spell_and_runs_out() -> None:
    clock, seen = ManualClock(), []
    idle = IdleCountdown(clock, seen.append, timeout_s=90, warning_s=30)
    idle.arm()
    clock.advance(59)
    assert seen == []
    clock.advance(1)
    assert seen == [IdleWarning(idle.generation)]
    idle.warn()
    assert idle.seconds_left == 30
    expired = []
    for _ in range(30):
        clock.advance(1)
        event: FlowEvent = seen[-1]
        assert isinstance(event, IdleTick) and event.generation == idle.generation
        expired.append(idle.tick())
    assert expired == [False] * 29 + [True] and idle.seconds_left == 0


def test_re_arming_makes_the_old_callbacks_stale() -> None:
    clock, seen = ManualClock(), []
    idle = IdleCountdown(clock, seen.append, timeout_s=90, warning_s=30)
    idle.arm()
    old = idle.generation
    idle.arm()
    clock.advance(60)
    assert seen == [IdleWarning(idle.generation)] and idle.generation != old
    idle.disarm()
    assert idle.seconds_left is None and clock.pending() == []


def test_the_hold_timer_fires_once_and_can_be_withdrawn() -> None:
    clock, seen = ManualClock(), []
    hold = HoldTimer(clock, seen.append, hold_s=20)
    hold.want(True)
    hold.want(True)  # already running: not a second timer
    assert len(clock.pending()) == 1
    hold.want(False)
    clock.advance(30)
    assert seen == []
    hold.want(True)
    clock.advance(20)
    assert seen == [MessageExpired(hold.generation)]


def test_retiming_applies_from_the_next_arm() -> None:
    clock, seen = ManualClock(), []
    idle = IdleCountdown(clock, seen.append, timeout_s=90, warning_s=30)
    idle.arm()
    idle.retime(135, 45)  # elder mode chosen: the quiet spell under way keeps its length
    assert idle.timing == (135, 45)
    clock.advance(60)
    assert seen == [IdleWarning(idle.generation)]
    idle.warn()
    assert idle.seconds_left == 45
    idle.arm()
    clock.advance(89)
    assert len(seen) == 1  # the countdown's ticks were cancelled, no new warning yet
    clock.advance(1)
    assert seen[-1] == IdleWarning(idle.generation) and len(seen) == 2
    with pytest.raises(ValueError):
        idle.retime(30, 30)


def test_the_hold_timer_can_deliver_another_event() -> None:
    clock, seen = ManualClock(), []
    forget = HoldTimer(clock, seen.append, hold_s=90, event=PreferencesExpired)
    forget.want(True)
    clock.advance(90)
    assert seen == [PreferencesExpired(forget.generation)]
