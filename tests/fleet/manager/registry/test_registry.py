"""The facade: one transaction per batch, and managers sharing a database converge."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from common.clock import utc_now
from fleet.manager.registry import Registry
from fleet.protocol import Payload
from tests.fleet.manager.support import S1, S2, S3, birth, death, health, make_registry


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_db")


def test_two_managers_sharing_one_database_converge(shared_database: str) -> None:
    """Two registries (separate engines, like two processes) apply a shuffled stream of
    presence and health messages for 20 devices concurrently."""
    # Migrating twice is harmless.
    managers = [make_registry(shared_database), make_registry(shared_database)]
    devices = [f"T-{i:03d}" for i in range(20)]
    stream: list[Payload] = []
    for d in devices:
        for s in (S1, S2, S3):
            stream.append(birth(s, device_id=d))
            stream.extend(health(s, n, device_id=d) for n in range(1, 4))
            if s < S3:
                stream.append(death(s, device_id=d))
    stream += stream[: len(stream) // 3]  # some redeliveries
    random.Random(7).shuffle(stream)
    halves = [stream[0::2], stream[1::2]]
    errors: list[BaseException] = []

    def run(reg: Registry, part: list[Payload]) -> None:
        try:
            for i in range(0, len(part), 7):
                reg.apply_batch(part[i : i + 7], utc_now())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m, h))
               for m, h in zip(managers, halves, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    # The next health of each live session (health from before its birth was not stored).
    managers[0].apply_batch([health(S3, 4, device_id=d) for d in devices], utc_now())
    for d in devices:
        dev = managers[0].get_device(d)
        assert dev is not None
        assert (dev.online, dev.presence_seq, dev.presence_kind) == (True, S3, 0)
        assert (dev.health_session_seq, dev.health_seq) == (S3, 4)
    for m in managers:
        m.db.dispose()
