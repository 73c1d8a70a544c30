"""fleet.protocol.presence: ordering of births and deaths, the session sequence."""

from __future__ import annotations

from fleet.protocol import (
    PresenceKey,
    PresenceKind,
    is_newer,
    next_session_seq,
)

BIRTH = PresenceKind.BIRTH
DEATH = PresenceKind.DEATH




def test_birth_sorts_before_death_within_a_session() -> None:
    assert PresenceKey(5, BIRTH) < PresenceKey(5, DEATH) < PresenceKey(6, BIRTH)


def test_late_will_from_an_old_session_is_not_newer() -> None:
    accepted = PresenceKey(6, BIRTH)
    assert not is_newer(PresenceKey(5, DEATH), accepted)


def test_duplicate_is_not_newer() -> None:
    assert not is_newer(PresenceKey(6, BIRTH), PresenceKey(6, BIRTH))
    assert not is_newer(PresenceKey(6, DEATH), PresenceKey(6, DEATH))


def test_birth_after_its_own_death_is_not_newer() -> None:
    assert not is_newer(PresenceKey(6, BIRTH), PresenceKey(6, DEATH))


def test_own_death_and_next_session_are_newer() -> None:
    assert is_newer(PresenceKey(6, DEATH), PresenceKey(6, BIRTH))
    assert is_newer(PresenceKey(7, BIRTH), PresenceKey(6, DEATH))
    assert is_newer(PresenceKey(0, BIRTH), None)


def test_any_arrival_order_converges_on_the_newest_event() -> None:
    import itertools

    events = [PresenceKey(5, BIRTH), PresenceKey(5, DEATH), PresenceKey(6, BIRTH),
              PresenceKey(6, BIRTH), PresenceKey(4, DEATH)]
    for order in itertools.permutations(events):
        accepted: PresenceKey | None = None
        for event in order:
            if is_newer(event, accepted):
                accepted = event
        assert accepted == PresenceKey(6, BIRTH)
        assert accepted.alive


def test_session_seq_rises_across_restarts_and_clock_jumps() -> None:
    assert next_session_seq(None, 1_000) == 1_000
    assert next_session_seq(1_000, 5_000) == 5_000
    assert next_session_seq(5_000, 2_000) == 5_001  # the clock went back
    assert next_session_seq(5_000, 5_000) == 5_001  # same millisecond
