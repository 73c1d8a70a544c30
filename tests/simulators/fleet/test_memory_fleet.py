"""A thousand virtual terminals in memory against the manager's real ingest and registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet.protocol import Command, decode, device_topic, encode
from fleet.protocol.topics import Channel
from simulators.fleet import misbehaviour
from simulators.fleet.memory import MemoryBroker
from simulators.fleet.memory_fleet import MemoryFleet
from tests.fleet.support import MemoryIngest

T0 = datetime.now(UTC).replace(microsecond=0)


def test_a_thousand_terminals_reach_the_registry_and_a_kill_is_seen(tmp_path: Path) -> None:
    broker = MemoryBroker()
    manager = MemoryIngest(broker, tmp_path / "registry.db")
    try:
        fleet = MemoryFleet(broker, 1000, health_interval_s=30)
        fleet.start(T0)
        manager.wait_acked(2000)  # a birth and a first health each
        fleet.tick(T0 + timedelta(seconds=30))
        manager.wait_acked(3000)
        d = manager.registry.get_device("SIM-00999")
        assert d is not None and d.online

        fleet.kill(["SIM-00005"])  # the broker publishes its Will
        manager.wait_acked(3001)
        gone = manager.registry.get_device("SIM-00005")
        assert gone is not None and not gone.online
        fleet.restart(["SIM-00005"], T0 + timedelta(seconds=31))
        manager.wait_acked(3003)
        back = manager.registry.get_device("SIM-00005")
        assert back is not None and back.online and back.presence_seq > gone.presence_seq
        assert manager.stats.invalid == 0
    finally:
        manager.close()


def test_out_of_range_messages_are_rejected_alone(tmp_path: Path) -> None:
    broker = MemoryBroker()
    manager = MemoryIngest(broker, tmp_path / "registry.db")
    try:
        fleet = MemoryFleet(broker, 50)
        fleet.start(T0)
        manager.wait_acked(100)
        bad = [misbehaviour.out_of_range(t, "seq", T0) for t in fleet.terminals.values()]
        bad.append(misbehaviour.out_of_range(fleet.terminals["SIM-00000"],
                                             "health_interval_s", T0))
        fleet.inject(bad)
        fleet.tick(T0 + timedelta(seconds=30))  # good health from every terminal after them
        manager.wait_acked(100 + len(bad) + 50)
        assert manager.stats.invalid == len(bad)
        assert all(manager.registry.get_device(d).online for d in fleet.terminals)
    finally:
        manager.close()


def test_commands_through_the_memory_broker_are_answered_once() -> None:
    broker = MemoryBroker()
    results: list[bytes] = []
    broker.connect("manager", lambda _t, p: results.append(p)).subscribe(
        "hrss/v1/dev/+/cmd-result")
    fleet = MemoryFleet(broker, 3)
    fleet.start(T0)
    cmd = encode(Command(device_id="SIM-00001", id="p1", name="ping",
                         expires_at=T0 + timedelta(seconds=30)))
    broker.publish(device_topic("SIM-00001", Channel.COMMAND), cmd)
    broker.publish(device_topic("SIM-00001", Channel.COMMAND), cmd)  # redelivered
    first, second = (decode(r) for r in results)
    assert first.id == second.id == "p1" and first.output == second.output == {"pong": True}
    assert fleet.terminals["SIM-00001"].disk.answered.keys() == {"p1"}


def test_job_updates_reach_the_ingest_as_valid_messages(tmp_path: Path) -> None:
    broker = MemoryBroker()
    manager = MemoryIngest(broker, tmp_path / "registry.db")
    jobs: list[bytes] = []
    broker.connect("job-watcher", lambda _t, p: jobs.append(p)).subscribe("hrss/v1/dev/+/job")
    try:
        fleet = MemoryFleet(broker, 2)
        fleet.start(T0)
        broker.publish(device_topic("SIM-00000", Channel.COMMAND),
                       encode(Command(device_id="SIM-00000", id="j1", name="wait",
                                      args={"seconds": 1},
                                      expires_at=T0 + timedelta(seconds=60))))
        for second in range(1, 4):
            fleet.tick(T0 + timedelta(seconds=second))
        states = [decode(p).state for p in jobs]
        assert states == ["queued", "running", "succeeded"]
        manager.wait_acked(broker.published)  # every message, the command included
        assert manager.stats.invalid == 0
    finally:
        manager.close()
