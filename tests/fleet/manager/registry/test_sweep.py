"""The sweep: survives any stored value, one bad device stops nobody, ghosts are forgotten."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.clock import utc_now
from fleet.manager.registry import Registry
from fleet.manager.registry._sql import DEV as DEVICES
from fleet.manager.registry.sweep import MAX_HEALTH_INTERVAL_S, silence_allowed_s
from tests.fleet.manager.support import DEV, S1, apply, birth, health, state


def test_sweeper_times_out_silent_devices_once(registry: Registry) -> None:
    apply(registry, birth(S1))
    later = utc_now() + timedelta(seconds=100)
    assert registry.sweep_offline(later, offline_after_s=90) == [DEV]
    assert state(registry) == (False, S1, 0)
    assert registry.get_device(DEV).presence_reason == "timeout"
    assert registry.sweep_offline(later, offline_after_s=90) == []


def test_sweeper_allows_three_of_the_devices_own_intervals(registry: Registry) -> None:
    apply(registry, birth(S1, interval=60))
    assert registry.sweep_offline(utc_now() + timedelta(seconds=100), 90) == []
    assert registry.sweep_offline(utc_now() + timedelta(seconds=181), 90) == [DEV]


@pytest.mark.parametrize("stored", [1e300, math.inf, math.nan, -5.0, None])
def test_any_stored_interval_is_survived(stored: float | None) -> None:
    allowed = silence_allowed_s(90, stored)
    assert 90 <= allowed <= 3 * MAX_HEALTH_INTERVAL_S


def test_a_huge_stored_interval_stops_the_sweep_for_no_other_device(
    registry: Registry,
) -> None:
    # Values older releases (or a database edited by hand) may hold, beyond today's ranges.
    apply(registry, birth(S1, device_id="T-bad"), birth(S1, device_id="T-good"))
    with registry.db.write.begin() as conn:
        conn.execute(update(DEVICES).where(DEVICES.c.id == "T-bad")
                     .values(health_interval_s=1e300))
    later = utc_now() + timedelta(days=4)
    assert sorted(registry.sweep_offline(later, 90)) == ["T-bad", "T-good"]


def test_devices_that_never_became_healthy_are_forgotten(registry: Registry) -> None:
    ghosts = [birth(S1, device_id=f"G-{i:03d}") for i in range(200)]
    apply(registry, *ghosts, birth(S1), health(S1, 1))
    later = utc_now() + timedelta(days=2)
    gone = registry.expire_unconfirmed(later, retention_s=86_400)
    assert len(gone) == 200 and DEV not in gone
    assert registry.get_device("G-000") is None and registry.presence_events("G-000", 5) == []
    assert registry.get_device(DEV) is not None
    # A forgotten id that comes back is simply created again.
    apply(registry, birth(S1 + 1, device_id="G-000"))
    assert state(registry, "G-000") == (True, S1 + 1, 0)
