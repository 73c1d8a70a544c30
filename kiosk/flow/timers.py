"""The flow's two timers, on the injected Scheduler, each guarded by a generation number so
that a callback that fires after its timer was re-armed or cancelled is recognised as stale."""

from __future__ import annotations

import math
from collections.abc import Callable

from kiosk.flow.events import FlowEvent, IdleTick, IdleWarning, MessageExpired
from kiosk.flow.ports import Cancellable, Scheduler

Deliver = Callable[[FlowEvent], None]


class IdleCountdown:
    """WCAG 2.2.1 (Timing Adjustable): after a quiet spell, warn and count down; the citizen
    can extend. `seconds_left` is None until the warning shows."""

    def __init__(self, scheduler: Scheduler, deliver: Deliver, timeout_s: float,
                 warning_s: float) -> None:
        self._scheduler = scheduler
        self._deliver = deliver
        self.generation = 0
        self._timer: Cancellable | None = None
        self.seconds_left: int | None = None
        self.retime(timeout_s, warning_s)

    def retime(self, timeout_s: float, warning_s: float) -> None:
        """New lengths (elder mode is slower), from the next `arm()` or `warn()` on."""
        if not 0 < warning_s < timeout_s:
            raise ValueError("the warning must be shorter than the timeout")
        self._quiet_s = timeout_s - warning_s
        self._warning_s = warning_s

    @property
    def timing(self) -> tuple[float, float]:
        """(timeout, warning) in seconds, as `retime` last set them."""
        return self._quiet_s + self._warning_s, self._warning_s

    def arm(self) -> None:
        """(Re)start the quiet spell: activity, or a session that has just begun."""
        self.disarm()
        generation = self.generation
        self._timer = self._scheduler.call_later(
            self._quiet_s, lambda: self._deliver(IdleWarning(generation))
        )

    def disarm(self) -> None:
        self.generation += 1
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self.seconds_left = None

    def warn(self) -> None:
        self.seconds_left = math.ceil(self._warning_s)
        self._tick_later()

    def tick(self) -> bool:
        """One second of the countdown has passed; True when it has run out."""
        if self.seconds_left is None:
            return False
        self.seconds_left -= 1
        if self.seconds_left > 0:
            self._tick_later()
            return False
        return True

    def _tick_later(self) -> None:
        generation = self.generation
        self._timer = self._scheduler.call_later(
            1.0, lambda: self._deliver(IdleTick(generation))
        )


class HoldTimer:
    """Keeps advice on screen for `hold_s` once nothing else will take it away (a card that is
    already out), then delivers MessageExpired (or `event(generation)`: the same one-shot
    timer ends a walked-away citizen's choices on the attract screen)."""

    def __init__(self, scheduler: Scheduler, deliver: Deliver, hold_s: float,
                 event: Callable[[int], FlowEvent] = MessageExpired) -> None:
        self._scheduler = scheduler
        self._deliver = deliver
        self._hold_s = hold_s
        self._event = event
        self.generation = 0
        self._timer: Cancellable | None = None

    def want(self, wanted: bool) -> None:
        if wanted and self._timer is None:
            generation = self.generation
            self._timer = self._scheduler.call_later(
                self._hold_s, lambda: self._deliver(self._event(generation))
            )
        elif not wanted and self._timer is not None:
            self.cancel()

    def cancel(self) -> None:
        self.generation += 1
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
