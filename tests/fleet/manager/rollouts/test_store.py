"""Rollouts in the database (SQLite and PostgreSQL): the filter, "never the same release twice
unless forced", idempotent creation, and steps that store their commands once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.clock import utc_now
from fleet.manager.registry import Registry
from fleet.manager.rollouts import machine, store
from fleet.manager.rollouts.spec import RolloutSpec
from tests.fleet.manager.support import S1, apply, birth


def _spec(**kw: object) -> RolloutSpec:
    return RolloutSpec(**{"name": "r", "target": "kiosk/k-1.4.0.tar.gz", "version": "1.4.0",
                          "groups": ["rest"], "seed": 3, **kw})


def _fleet(registry: Registry) -> None:
    apply(registry, birth(S1, "A-1", app="1.3.0"), birth(S1, "A-2", app="1.3.0"),
          birth(S1, "A-3", app="1.2.0"), birth(S1, "A-4", app="1.4.0"))
    registry.set_labels("A-1", "gd-sz", ["pilot", "big-hall"])
    registry.set_labels("A-2", "gd-gz", ["pilot"])


def test_the_filter_selects_by_region_tags_and_version(registry: Registry) -> None:
    _fleet(registry)
    with registry.db.read.connect() as conn:
        def chosen(**f: object) -> list[str]:
            return [s.device_id for s in store.select_devices(conn, _spec(filter=f))]

        assert chosen() == ["A-1", "A-2", "A-3"]  # A-4 runs 1.4.0 already
        assert chosen(region="gd-sz") == ["A-1"]
        assert chosen(tags=["pilot"]) == ["A-1", "A-2"]
        assert chosen(tags=["pilot", "big-hall"]) == ["A-1"]
        assert chosen(versions=["1.2.0"]) == ["A-3"]
        assert chosen(site="elsewhere") == []
        assert [s.device_id for s in store.select_devices(conn, _spec(force=True))] == \
            ["A-1", "A-2", "A-3", "A-4"]


def test_a_terminal_never_takes_the_same_release_twice_unless_forced(registry: Registry) -> None:
    _fleet(registry)
    now = utc_now()
    first, replayed = store.create(registry.db, _spec(filter={"device_ids": ["A-1"]}), "k1",
                                   "h1", now)
    assert not replayed
    assert store.create(registry.db, _spec(filter={"device_ids": ["A-1"]}), "k1", "h1",
                        now) == (first, True)
    with pytest.raises(store.KeyReused):
        store.create(registry.db, _spec(), "k1", "other", now)
    # A-1 is in the middle of the first rollout: a second one leaves it out.
    with pytest.raises(store.NoTargets):
        store.create(registry.db, _spec(filter={"device_ids": ["A-1"]}), "k2", "h2", now)
    records = store.tick(registry.db, first, now)
    assert records is not None and [r.name for r in records] == ["update"]
    assert store.tick(registry.db, first, now) == []  # stored once, not again
    assert store.unpublished(registry.db, now + timedelta(seconds=10), 5) == records
    forced, _ = store.create(registry.db, _spec(filter={"device_ids": ["A-1"]}, force=True),
                             "k3", "h3", now)
    assert store.get(registry.db, forced)["total"] == 1


def test_operator_actions_follow_the_state_machine(registry: Registry) -> None:
    _fleet(registry)
    now = utc_now()
    rid, _ = store.create(registry.db, _spec(), "k1", "h1", now)
    store.act(registry.db, rid, "pause", now)
    assert store.get(registry.db, rid)["state"] == "paused"
    with pytest.raises(machine.Refused):
        store.act(registry.db, rid, "pause", now)
    store.act(registry.db, rid, "abort", now)
    store.tick(registry.db, rid, now)
    view = store.get(registry.db, rid)
    assert view["state"] == "aborted" and view["counts"] == {"skipped": 3}
    assert view["finished_at"] is not None
    with pytest.raises(store.NotFound):
        store.act(registry.db, "0" * 32, "pause", now)
