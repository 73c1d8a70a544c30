"""The sweeper: one failing step stops none of the others."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from common.clock import utc_now
from fleet.manager.models import CommandRecord
from fleet.manager.registry import Registry
from fleet.manager.service import Sweeper
from tests.fleet.manager.support import S1, apply, birth, make_registry


class BrokenOffline(Registry):
    def sweep_offline(self, now: datetime, offline_after_s: float) -> list[str]:
        raise OverflowError("date value out of range")


def test_a_failing_step_does_not_stop_the_others(tmp_path: Path) -> None:
    registry = make_registry(tmp_path / "fleet.db")
    broken = BrokenOffline(registry.db, history_interval_s=0)
    try:
        apply(broken, birth(S1, device_id="G-1"))
        past = utc_now() - timedelta(seconds=120)
        broken.insert_command(CommandRecord(
            id="c1", device_id="G-1", name="ping", args={}, idempotency_key="k",
            request_hash="h", issued_at=past, expires_at=past + timedelta(seconds=60)))
        Sweeper(broken, offline_after_s=90, unconfirmed_retention_s=1e-6).sweep()
        assert broken.get_command("c1").status == "timed-out"
        assert broken.get_device("G-1") is None  # never healthy: forgotten
    finally:
        registry.db.dispose()
