"""Health: the newest of the current session is kept; liveness resumes a timed-out device."""

from __future__ import annotations

from datetime import timedelta

from common.clock import utc_now
from fleet.manager.registry import Registry
from tests.fleet.manager.support import DEV, S1, S2, apply, birth, health, make_registry, state


def test_newest_health_of_the_current_session_wins_whatever_the_order(
    registry: Registry,
) -> None:
    apply(registry, birth(S2))
    apply(registry, health(S2, 3), health(S2, 1))
    apply(registry, health(S2, 2))
    apply(registry, health(S1, 50))
    d = registry.get_device(DEV)
    assert d is not None and (d.health_session_seq, d.health_seq) == (S2, 3)


def test_health_brings_back_a_timed_out_device(registry: Registry) -> None:
    apply(registry, birth(S1))
    assert registry.sweep_offline(utc_now() + timedelta(seconds=100), 90) == [DEV]
    out = apply(registry, health(S1, 2))
    assert state(registry) == (True, S1, 0) and out.reborn == []
    assert [e.kind for e in registry.presence_events(DEV, 10)] == ["resumed", "timeout", "birth"]


def test_history_keeps_one_sample_per_interval(tmp_path) -> None:
    reg = make_registry(tmp_path / "h.db", history_interval_s=3600)
    try:
        apply(reg, birth(S1), health(S1, 1))
        apply(reg, health(S1, 2))
        with reg.db.read.connect() as conn:
            from sqlalchemy import func, select

            from fleet.manager.registry._sql import SAMPLE

            assert conn.execute(select(func.count()).select_from(SAMPLE)).scalar() == 1
    finally:
        reg.db.dispose()
