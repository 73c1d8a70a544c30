"""The registry's ordering rules, applied to a real SQLite file (as several managers would)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.manager.db import open_database
from fleet.manager.models import CommandRecord
from fleet.manager.registry import BatchOutcome, Registry
from fleet.protocol import (
    Birth,
    CommandResult,
    CommandStatus,
    Death,
    Health,
    KioskHealth,
    Payload,
    SystemHealth,
    utc_now,
)

DEV = "T-1"


def birth(seq: int, app: str = "1.0") -> Birth:
    return Birth(device_id=DEV, session_seq=seq, app_version=app, agent_version="a",
                 site="hall", hostname="h", health_interval_s=1)


def death(seq: int, reason: str = "will") -> Death:
    return Death(device_id=DEV, session_seq=seq, reason=reason)


def health(session_seq: int, seq: int, device_id: str = DEV) -> Health:
    return Health(
        device_id=device_id, session_seq=session_seq, seq=seq, app_version="1.0",
        system=SystemHealth(cpu_percent=1, memory_percent=2, disk_percent=3, uptime_s=4),
        kiosk=KioskHealth(reachable=True),
    )


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    db = open_database(f"sqlite:///{tmp_path / 'fleet.db'}")
    reg = Registry(db, history_interval_s=0)
    reg.create_schema()
    yield reg
    db.dispose()


def apply(registry: Registry, *payloads: Payload) -> BatchOutcome:
    return registry.apply_batch(list(payloads), utc_now())


def state(registry: Registry) -> tuple[bool, int, int]:
    d = registry.get_device(DEV)
    assert d is not None
    return d.online, d.presence_seq, d.presence_kind


def test_birth_then_own_death(registry: Registry) -> None:
    out = apply(registry, birth(10))
    assert out.reborn == [DEV]
    assert state(registry) == (True, 10, 0)
    apply(registry, death(10))
    assert state(registry) == (False, 10, 1)
    assert registry.get_device(DEV).presence_reason == "will"


def test_late_will_from_an_old_session_changes_nothing(registry: Registry) -> None:
    apply(registry, birth(10), death(10), birth(11))
    out = apply(registry, death(10))
    assert out.presence_ignored == 1
    assert state(registry) == (True, 11, 0)


def test_duplicate_birth_changes_nothing(registry: Registry) -> None:
    apply(registry, birth(10))
    out = apply(registry, birth(10))
    assert (out.presence_accepted, out.presence_ignored, out.reborn) == (0, 1, [])
    assert [e.kind for e in registry.presence_events(DEV, 10)] == ["birth"]


def test_birth_arriving_after_its_own_death_changes_nothing(registry: Registry) -> None:
    apply(registry, death(10))  # reordered: the Will overtook the birth
    apply(registry, birth(10))
    assert state(registry) == (False, 10, 1)
    # ... but the birth's details are still recorded.
    assert registry.get_device(DEV).app_version == "1.0"


def test_health_from_a_newer_session_is_its_birth(registry: Registry) -> None:
    apply(registry, birth(10), death(10))
    out = apply(registry, health(11, 1))
    assert out.reborn == [DEV]
    assert state(registry) == (True, 11, 0)
    apply(registry, birth(11, app="2.0"))  # the real birth, late: details only
    d = registry.get_device(DEV)
    assert d is not None and d.birth_seq == 11 and d.app_version == "2.0" and d.online


def test_health_from_an_old_or_dead_session_does_not_make_online(registry: Registry) -> None:
    apply(registry, birth(10), health(10, 5), death(10))
    apply(registry, health(10, 6))  # late health of the dead session
    assert state(registry) == (False, 10, 1)
    apply(registry, birth(11), death(11))
    apply(registry, health(10, 7))  # an older session
    assert state(registry) == (False, 11, 1)


def test_newest_health_wins_whatever_the_order(registry: Registry) -> None:
    apply(registry, birth(10))
    apply(registry, health(10, 3), health(10, 1))
    apply(registry, health(10, 2))
    apply(registry, health(9, 50))
    d = registry.get_device(DEV)
    assert d is not None and (d.health_session_seq, d.health_seq) == (10, 3)


def test_sweeper_times_out_silent_devices_and_health_brings_them_back(
    registry: Registry,
) -> None:
    apply(registry, birth(10))
    later = utc_now() + timedelta(seconds=100)
    assert registry.sweep_offline(later, offline_after_s=90) == [DEV]
    assert state(registry) == (False, 10, 0)
    assert registry.get_device(DEV).presence_reason == "timeout"
    assert registry.sweep_offline(later, offline_after_s=90) == []  # once

    out = apply(registry, health(10, 2))
    assert state(registry) == (True, 10, 0)
    assert out.reborn == []
    kinds = [e.kind for e in registry.presence_events(DEV, 10)]
    assert kinds == ["resumed", "timeout", "birth"]


def test_sweeper_allows_three_of_the_devices_own_intervals(registry: Registry) -> None:
    slow = Birth(device_id=DEV, session_seq=1, app_version="1", agent_version="a", site="s",
                 hostname="h", health_interval_s=60)
    apply(registry, slow)
    assert registry.sweep_offline(utc_now() + timedelta(seconds=100), 90) == []
    assert registry.sweep_offline(utc_now() + timedelta(seconds=181), 90) == [DEV]


def _command(registry: Registry, command_id: str, device_id: str = DEV) -> None:
    now = utc_now()
    registry.insert_command(CommandRecord(
        id=command_id, device_id=device_id, name="ping", args={}, idempotency_key=command_id,
        request_hash="h", issued_at=now, expires_at=now + timedelta(seconds=60),
    ))


def test_command_results_apply_once_and_only_from_the_addressee(registry: Registry) -> None:
    apply(registry, birth(1))
    _command(registry, "c1")
    impostor = CommandResult(device_id="T-2", id="c1", status=CommandStatus.ERROR)
    out = apply(registry, impostor)
    assert out.results_ignored == 1
    ok = CommandResult(device_id=DEV, id="c1", status=CommandStatus.OK, output={"pong": True})
    out = apply(registry, ok, ok)
    assert (out.results_applied, out.results_ignored) == (1, 1)
    c = registry.get_command("c1")
    assert c is not None and c.status == "ok" and c.output == {"pong": True}


def test_a_late_result_beats_timed_out(registry: Registry) -> None:
    apply(registry, birth(1))
    _command(registry, "c2")
    assert registry.time_out_commands(utc_now() + timedelta(seconds=61)) == 1
    assert registry.get_command("c2").status == "timed-out"
    apply(registry, CommandResult(device_id=DEV, id="c2", status=CommandStatus.OK))
    assert registry.get_command("c2").status == "ok"


def test_redelivered_batches_are_harmless(registry: Registry) -> None:
    batch = [birth(10), health(10, 1), death(10), birth(11), health(11, 1)]
    apply(registry, *batch)
    first = registry.get_device(DEV)
    apply(registry, *batch)
    again = registry.get_device(DEV)
    assert first is not None and again is not None
    assert (again.online, again.presence_seq, again.health_seq) == (True, 11, 1)
    assert (first.online, first.presence_seq) == (again.online, again.presence_seq)
    assert len(registry.presence_events(DEV, 50)) == 3


def test_two_managers_sharing_one_database_converge(tmp_path: Path) -> None:
    """Two registries (separate engines, like two processes) apply a shuffled stream of
    presence and health messages for 20 devices concurrently."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    managers = [Registry(open_database(url), history_interval_s=0) for _ in range(2)]
    managers[0].create_schema()
    managers[1].create_schema()  # idempotent
    devices = [f"T-{i:03d}" for i in range(20)]
    stream: list[Payload] = []
    for d in devices:
        for s in (100, 101, 102):
            stream.append(Birth(device_id=d, session_seq=s, app_version="1", agent_version="a",
                                site="s", hostname="h", health_interval_s=1))
            stream.extend(health(s, n, device_id=d) for n in range(1, 4))
            if s < 102:
                stream.append(Death(device_id=d, session_seq=s))
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

    threads = [threading.Thread(target=run, args=(m, h)) for m, h in zip(managers, halves,
                                                                         strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for d in devices:
        dev = managers[0].get_device(d)
        assert dev is not None
        assert (dev.online, dev.presence_seq, dev.presence_kind) == (True, 102, 0)
        assert (dev.health_session_seq, dev.health_seq) == (102, 3)
    for m in managers:
        m.db.dispose()
