"""Ordering of presence events (the Sparkplug B bdSeq pattern).

Events are ordered by `(session_seq, kind)` with birth < death; a receiver accepts an event only
if it is newer than the last one it accepted for that device. A late Will from an old session,
a duplicate, or a birth arriving after its own death therefore changes nothing, in whatever order
the broker or several manager processes deliver them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class PresenceKind(IntEnum):
    BIRTH = 0
    DEATH = 1


@dataclass(frozen=True, order=True, slots=True)
class PresenceKey:
    session_seq: int
    kind: PresenceKind

    @property
    def alive(self) -> bool:
        return self.kind is PresenceKind.BIRTH


def is_newer(candidate: PresenceKey, accepted: PresenceKey | None) -> bool:
    """True when `candidate` should replace the last accepted event."""
    return accepted is None or candidate > accepted


def next_session_seq(last: int | None, now_ms: int) -> int:
    """max(last + 1, now in ms): rises across restarts even if the clock was set back."""
    return now_ms if last is None else max(last + 1, now_ms)
