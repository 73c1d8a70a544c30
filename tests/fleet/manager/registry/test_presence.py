"""Presence rules (fleet/manager/registry/__init__.py) on a real SQLite registry."""

from __future__ import annotations

from common.clock import utc_now
from fleet.manager.registry import Registry, RejectReason
from tests.fleet.manager.support import DEV, S1, S2, apply, birth, death, health, state


def test_birth_then_own_death(registry: Registry) -> None:
    out = apply(registry, birth(S1))
    assert out.reborn == [DEV]
    assert state(registry) == (True, S1, 0)
    apply(registry, death(S1))
    assert state(registry) == (False, S1, 1)
    assert registry.get_device(DEV).presence_reason == "will"


def test_late_will_from_an_old_session_changes_nothing(registry: Registry) -> None:
    apply(registry, birth(S1), death(S1), birth(S2))
    out = apply(registry, death(S1))
    assert out.presence_ignored == 1
    assert state(registry) == (True, S2, 0)


def test_duplicate_birth_changes_nothing(registry: Registry) -> None:
    apply(registry, birth(S1))
    out = apply(registry, birth(S1))
    assert (out.presence_accepted, out.presence_ignored, out.reborn) == (0, 1, [])
    assert [e.kind for e in registry.presence_events(DEV, 10)] == ["birth"]


def test_a_birth_arriving_after_its_own_death_lands_offline(registry: Registry) -> None:
    apply(registry, death(S1))  # reordered: the Will overtook the birth
    assert state(registry) == (False, -1, 1)  # kept aside: presence did not move
    out = apply(registry, birth(S1))
    assert out.reborn == []
    assert state(registry) == (False, S1, 1)
    d = registry.get_device(DEV)
    assert d is not None and d.presence_reason == "will" and d.app_version == "1.0"
    assert [e.kind for e in registry.presence_events(DEV, 10)] == ["death", "birth"]


def test_a_death_of_another_session_cannot_take_the_device_offline(registry: Registry) -> None:
    apply(registry, birth(S1))
    apply(registry, death(S2))  # a session that was never born
    assert state(registry) == (True, S1, 0)
    # ... and the device's next session still comes online.
    apply(registry, death(S1), birth(S2 + 1))
    assert state(registry) == (True, S2 + 1, 0)


def test_a_forged_death_far_ahead_is_rejected_and_restarts_still_work(
    registry: Registry,
) -> None:
    apply(registry, birth(S1))
    out = apply(registry, death(2**52))
    assert [(p.SCHEMA.name, r) for p, r in out.rejected] == [("hrss.death",
                                                             RejectReason.SESSION_AHEAD)]
    assert state(registry) == (True, S1, 0)
    apply(registry, death(S1), birth(S2))
    assert state(registry) == (True, S2, 0)


def test_a_birth_too_far_ahead_of_the_clock_is_rejected(registry: Registry) -> None:
    # From the clock apply() uses, not NOW_MS: a long suite runs this minutes after import.
    ahead = registry.session_horizon(utc_now()) + 60_000
    out = apply(registry, birth(ahead))
    assert [r for _, r in out.rejected] == [RejectReason.SESSION_AHEAD]
    assert registry.get_device(DEV) is None
    apply(registry, birth(S1))  # the real session is not blocked by it
    assert state(registry) == (True, S1, 0)


def test_health_of_an_unborn_session_invents_nothing(registry: Registry) -> None:
    apply(registry, birth(S1), death(S1))
    out = apply(registry, health(S2, 1))
    assert out.reborn == [] and out.unborn == [(DEV, S2)]
    assert state(registry) == (False, S1, 1)
    d = registry.get_device(DEV)
    assert d is not None and d.health is None  # not stored either
    apply(registry, birth(S2, app="2.0"))  # the birth, late (or after a rebirth request)
    assert state(registry) == (True, S2, 0)


def test_health_from_an_old_or_dead_session_does_not_make_online(registry: Registry) -> None:
    apply(registry, birth(S1), health(S1, 5), death(S1))
    apply(registry, health(S1, 6))  # late health of the dead session
    assert state(registry) == (False, S1, 1)
    apply(registry, birth(S2), death(S2))
    out = apply(registry, health(S1, 7))  # an older session
    assert state(registry) == (False, S2, 1)
    assert out.health_ignored == 1 and out.unborn == []


def test_redelivered_batches_are_harmless(registry: Registry) -> None:
    batch = [birth(S1), health(S1, 1), death(S1), birth(S2), health(S2, 1)]
    apply(registry, *batch)
    first = registry.get_device(DEV)
    apply(registry, *batch)
    again = registry.get_device(DEV)
    assert first is not None and again is not None
    assert (again.online, again.presence_seq, again.health_seq) == (True, S2, 1)
    assert (first.online, first.presence_seq) == (again.online, again.presence_seq)
    assert len(registry.presence_events(DEV, 50)) == 3
