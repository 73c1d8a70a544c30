"""Manager-only test helpers: message factories and a registry on a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

from common.clock import utc_now
from fleet.manager import migrations
from fleet.manager.db import open_database
from fleet.manager.registry import BatchOutcome, Registry
from fleet.protocol import Birth, Death, Health, KioskHealth, Payload, SystemHealth

DEV = "T-1"
# Realistic (time-based) sessions: ms since the epoch, a little in the past.
NOW_MS = int(time.time() * 1000)
S1, S2, S3 = NOW_MS - 30_000, NOW_MS - 20_000, NOW_MS - 10_000


def birth(seq: int, device_id: str = DEV, app: str = "1.0", interval: float = 1) -> Birth:
    return Birth(device_id=device_id, session_seq=seq, app_version=app, agent_version="a",
                 site="hall", hostname="h", health_interval_s=interval)


def death(seq: int, device_id: str = DEV, reason: str = "will") -> Death:
    return Death(device_id=device_id, session_seq=seq, reason=reason)


def health(session_seq: int, seq: int, device_id: str = DEV) -> Health:
    return Health(
        device_id=device_id, session_seq=session_seq, seq=seq, app_version="1.0",
        system=SystemHealth(cpu_percent=1, memory_percent=2, disk_percent=3, uptime_s=4),
        kiosk=KioskHealth(reachable=True),
    )


def make_registry(where: Path | str, **kwargs: float) -> Registry:
    """A migrated registry on a SQLite file (a path) or any database URL."""
    db = open_database(where if isinstance(where, str) else f"sqlite:///{where}")
    migrations.upgrade(db)
    return Registry(db, **{"history_interval_s": 0, **kwargs})


def apply(registry: Registry, *payloads: Payload) -> BatchOutcome:
    return registry.apply_batch(list(payloads), utc_now())


def state(registry: Registry, device_id: str = DEV) -> tuple[bool, int, int]:
    d = registry.get_device(device_id)
    assert d is not None
    return d.online, d.presence_seq, d.presence_kind
