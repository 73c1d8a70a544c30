"""The agent shell (fleet.agent.service) over an injected in-memory transport: what it does
with the core's effects, the state directory across restarts, and a prompt stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.agent.service import Agent
from fleet.agent.settings import AgentSettings
from fleet.agent.transport import Callbacks
from fleet.protocol import (
    Birth,
    Channel,
    Command,
    Death,
    Health,
    decode,
    device_topic,
    encode,
    utc_now,
)
from simulators.fleet.memory import MemoryBroker
from tests.fleet.agent.support import EDGE_HEALTH, MemoryTransport, Recorder, StubEdge
from tests.fleet.support import FakeKiosk


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


class Running:
    def __init__(self, agent: Agent, transport: MemoryTransport) -> None:
        self.agent, self.transport = agent, transport
        self.thread = threading.Thread(target=agent.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.agent.request_stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "stop() did not return"


def _start(broker: MemoryBroker, state: Path, kiosk_url: str, **settings: object) -> Running:
    transports: list[MemoryTransport] = []

    def factory(callbacks: Callbacks) -> MemoryTransport:
        transports.append(MemoryTransport(broker, "T-1", callbacks))
        return transports[0]

    config = AgentSettings(device_id="T-1", site="hall-1", state_dir=state,
                           kiosk_status_url=kiosk_url, health_interval_s=60, **settings)
    agent = Agent(config, transport=factory)
    return Running(agent, transports[0])


@pytest.fixture
def kiosk() -> Iterator[FakeKiosk]:
    k = FakeKiosk()
    k.start()
    yield k
    k.stop()


def _command(cid: str, name: str, **args: object) -> bytes:
    return encode(Command(device_id="T-1", id=cid, name=name, args=args,
                          expires_at=utc_now() + timedelta(seconds=60)))


def test_birth_health_commands_and_a_clean_stop(broker: MemoryBroker, kiosk: FakeKiosk,
                                                tmp_path: Path) -> None:
    seen = Recorder(broker)
    running = _start(broker, tmp_path, kiosk.url)
    [birth] = seen.wait("birth")
    decoded = decode(birth)
    assert isinstance(decoded, Birth) and decoded.app_version == "2.3.4"  # from the kiosk
    seen.wait("health")

    broker.publish(device_topic("T-1", Channel.COMMAND), _command("c1", "report-health"))
    [result] = seen.wait("cmd-result")
    assert json.loads(result)["output"] == {"health_seq": 2}
    running.stop()
    [death] = seen.on("death")
    assert decode(death) == Death(device_id="T-1", ts=decode(death).ts,
                                  session_seq=decoded.session_seq, reason="shutdown")
    assert running.transport.stopped_with_will is False  # our death got through


def test_an_undelivered_death_asks_the_broker_for_the_will(broker: MemoryBroker,
                                                           kiosk: FakeKiosk,
                                                           tmp_path: Path) -> None:
    seen = Recorder(broker)
    running = _start(broker, tmp_path, kiosk.url)
    seen.wait("birth")
    running.transport.refuse_publishes = True
    running.stop()
    assert running.transport.stopped_with_will is True
    assert json.loads(seen.wait("death")[0])["reason"] == "will"


def test_three_hundred_pings_and_restarts_keep_a_bounded_log(broker: MemoryBroker,
                                                              kiosk: FakeKiosk,
                                                              tmp_path: Path) -> None:
    seen = Recorder(broker)
    for round_ in range(3):  # three agent processes on the same state directory
        running = _start(broker, tmp_path, kiosk.url, answered_commands_max=40)
        seen.wait("birth", count=round_ + 1)
        for i in range(100):
            broker.publish(device_topic("T-1", Channel.COMMAND),
                           _command(f"ping-{round_}-{i}", "ping"))
        seen.wait("cmd-result", count=100 * (round_ + 1))
        running.stop()
    kept = json.loads((tmp_path / "answered-commands.json").read_text())
    assert list(kept) == [f"ping-2-{i}" for i in range(60, 100)]
    assert {p.name for p in tmp_path.iterdir()} <= {"session_seq", "answered-commands.json",
                                                    "peripherals.json", "jobs.json"}


def test_a_job_survives_an_agent_restart(broker: MemoryBroker, kiosk: FakeKiosk,
                                         tmp_path: Path) -> None:
    seen = Recorder(broker)
    running = _start(broker, tmp_path, kiosk.url)
    seen.wait("birth")
    broker.publish(device_topic("T-1", Channel.COMMAND), _command("job-1", "wait", seconds=60))
    seen.wait("job", count=2)  # queued, then running
    running.stop()
    [kept] = json.loads((tmp_path / "jobs.json").read_text()).values()
    assert kept["state"] == "running"

    restarted = _start(broker, tmp_path, kiosk.url)
    seen.wait("birth", count=2)
    republished = json.loads(seen.wait("job", count=3)[2])  # the birth republishes its state
    assert (republished["job_id"], republished["state"]) == ("job-1", "running")
    broker.publish(device_topic("T-1", Channel.COMMAND),
                   _command("cancel-1", "cancel-job", job_id="job-1"))
    cancelled = [json.loads(p) for p in seen.wait("job", count=4)]
    assert cancelled[-1]["state"] == "cancelled"
    assert [u["update"] for u in cancelled] == sorted(u["update"] for u in cancelled)
    restarted.stop()
    [kept] = json.loads((tmp_path / "jobs.json").read_text()).values()
    assert kept["state"] == "cancelled"


def test_health_carries_the_edges_metrics_when_an_edge_is_configured(
        broker: MemoryBroker, kiosk: FakeKiosk, tmp_path: Path) -> None:
    edge = StubEdge(json.dumps(EDGE_HEALTH).encode())
    try:
        seen = Recorder(broker)
        running = _start(broker, tmp_path, kiosk.url, edge_url=edge.url)
        [health] = seen.wait("health")
        running.stop()
    finally:
        edge.close()
    assert json.loads(health)["edge"] == {
        "reachable": True, "central_reachable": False, "outbox_depth": 12,
        "oldest_pending_age_s": 30.5, "dead_letters": 1, "outbox_full": False,
        "cache_hit_ratio": 0.75}


def test_health_has_no_edge_block_without_an_edge_url(broker: MemoryBroker, kiosk: FakeKiosk,
                                                       tmp_path: Path) -> None:
    seen = Recorder(broker)
    running = _start(broker, tmp_path, kiosk.url)
    [health] = seen.wait("health")
    running.stop()
    decoded = decode(health)
    assert isinstance(decoded, Health) and decoded.edge is None
