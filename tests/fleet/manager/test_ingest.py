"""The manager's ingest writer on a real SQLite registry: acknowledgement after commit, retries
through a database outage, and a stop that gives up without acknowledging."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from fleet.manager import migrations
from fleet.manager.db import Database, open_database
from fleet.manager.ingest import IngestWriter
from fleet.manager.registry import BatchOutcome, Registry
from fleet.manager.stats import IngestStats
from fleet.mqtt import IncomingMessage
from fleet.protocol import Birth, Channel, Payload, device_topic, encode
from tests.fleet.manager.support import S1, health


class Acks:
    """Records acknowledgements; waits for them on a condition variable."""

    def __init__(self) -> None:
        self.topics: list[str] = []
        self._cond = threading.Condition()

    def message(self, topic: str, payload: bytes) -> IncomingMessage:
        def ack() -> None:
            with self._cond:
                self.topics.append(topic)
                self._cond.notify_all()

        return IncomingMessage(topic, payload, 1, ack=ack)

    def wait(self, count: int, timeout: float = 10.0) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.topics) >= count, timeout), self.topics
            return list(self.topics)


class FlakyRegistry(Registry):
    """Fails the first `failures` batches like a locked or unreachable database; records what
    had been acknowledged when each attempt ended (committed or failed)."""

    def __init__(self, db: Database, acks: Acks, failures: int) -> None:
        super().__init__(db, history_interval_s=0)
        self.acks = acks
        self.failures = failures
        self.acked_when_done: list[list[str]] = []
        self.poison: set[str] = set()  # devices whose messages the "database" refuses
        self.attempts = 0

    def apply_batch(self, payloads: Sequence[Payload], now: datetime) -> BatchOutcome:
        self.attempts += 1
        if any(p.device_id in self.poison for p in payloads):
            raise IntegrityError("INSERT ...", {}, Exception("constraint failed"))
        if self.failures:
            self.failures -= 1
            self.acked_when_done.append(list(self.acks.topics))
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        outcome = super().apply_batch(payloads, now)  # committed on return
        self.acked_when_done.append(list(self.acks.topics))
        return outcome


@dataclass
class Ingest:
    writer: IngestWriter
    registry: FlakyRegistry
    stats: IngestStats
    reborn: list[str]


def birth(device_id: str, seq: int = S1) -> bytes:
    return encode(Birth(device_id=device_id, session_seq=seq, app_version="1", agent_version="a",
                        site="s", hostname="h", health_interval_s=30))


@pytest.fixture
def acks() -> Acks:
    return Acks()


@pytest.fixture
def make_ingest(tmp_path: Path, acks: Acks) -> Iterator[Callable[[int], Ingest]]:
    made: list[Ingest] = []

    def make(failures: int = 0) -> Ingest:
        db = open_database(f"sqlite:///{tmp_path / 'fleet.db'}")
        migrations.upgrade(db)
        registry = FlakyRegistry(db, acks, failures)
        stats, reborn = IngestStats(), []
        writer = IngestWriter(registry, stats, on_reborn=reborn.extend)
        writer.start()
        made.append(Ingest(writer, registry, stats, reborn))
        return made[-1]

    yield make
    for ingest in made:
        ingest.writer.stop(timeout=1)
        ingest.registry.db.dispose()


def test_acknowledged_only_after_the_commit(make_ingest: Callable[[int], Ingest],
                                            acks: Acks) -> None:
    ingest = make_ingest(0)
    topic = device_topic("T-1", Channel.BIRTH)

    ingest.writer.submit(acks.message(topic, birth("T-1")))

    assert acks.wait(1) == [topic]
    assert ingest.registry.acked_when_done == [[]]  # committed before anything was acknowledged
    device = ingest.registry.get_device("T-1")
    assert device is not None and device.online
    assert ingest.reborn == ["T-1"]


def test_a_database_outage_is_retried_and_acknowledged_once_applied(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(2)
    topic = device_topic("T-2", Channel.BIRTH)

    ingest.writer.submit(acks.message(topic, birth("T-2")))

    assert acks.wait(1) == [topic]
    assert ingest.registry.acked_when_done == [[], [], []]  # two failures, then the commit
    assert ingest.registry.get_device("T-2") is not None
    assert ingest.stats.db_errors == 2


def test_stop_gives_up_on_an_outage_without_acknowledging(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(10**6)
    ingest.writer.submit(acks.message(device_topic("T-3", Channel.BIRTH), birth("T-3")))
    ingest.writer.submit(acks.message(device_topic("T-4", Channel.BIRTH), birth("T-4")))

    ingest.writer.stop(timeout=0.3)

    assert not any(t.name == "fleet-ingest" and t.is_alive() for t in threading.enumerate())
    assert ingest.registry.acked_when_done  # it did try
    assert acks.topics == []  # left with the broker, which delivers them again


def test_invalid_and_foreign_messages_are_acknowledged_and_dropped(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(0)
    writer, registry = ingest.writer, ingest.registry
    writer.submit(acks.message(device_topic("T-5", Channel.COMMAND), b"{}"))  # a manager's own
    writer.submit(acks.message(device_topic("T-5", Channel.BIRTH), b"not json"))
    writer.submit(acks.message(device_topic("T-5", Channel.BIRTH), birth("T-6")))  # wrong device

    assert sorted(acks.wait(3)) == sorted([device_topic("T-5", Channel.COMMAND)]
                                          + [device_topic("T-5", Channel.BIRTH)] * 2)
    assert ingest.stats.invalid == 2
    assert ingest.stats.rejects.counts() == {**ZERO, "decode": 1, "device-mismatch": 1}
    assert registry.get_device("T-5") is None and registry.get_device("T-6") is None


ZERO = {"topic": 0, "decode": 0, "device-mismatch": 0, "session-ahead": 0, "store-failed": 0,
        "too-large": 0}


def _stalled(writer: IngestWriter) -> threading.Event:
    """Holds the writer thread on its first message until the event is set, so that the
    messages submitted meanwhile form one batch."""
    release = threading.Event()
    writer.submit(IncomingMessage("hrss/v1/dev/T-0/birth", birth("T-0"), 1,
                                  ack=lambda: release.wait(10)))
    return release


def test_one_out_of_range_message_is_rejected_alone_not_its_batch(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(0)
    release = _stalled(ingest.writer)
    good = [f"T-{i:04d}" for i in range(1, 1001)]
    for device_id in good[:500]:
        ingest.writer.submit(acks.message(device_topic(device_id, Channel.BIRTH), birth(device_id)))
    bad = json.loads(encode(health(S1, 1, device_id="T-0500")))
    bad["seq"] = 2**63  # beyond every range: fails to decode, alone
    ingest.writer.submit(acks.message(device_topic("T-0500", Channel.HEALTH),
                                      json.dumps(bad).encode()))
    for device_id in good[500:]:
        ingest.writer.submit(acks.message(device_topic(device_id, Channel.BIRTH), birth(device_id)))
    release.set()

    assert len(acks.wait(1001)) == 1001  # all acknowledged: none waits for ever
    assert ingest.stats.rejects.counts() == {**ZERO, "decode": 1}
    assert all(ingest.registry.get_device(d) is not None for d in good)
    assert ingest.stats.ingested == 1001  # T-0 and the thousand


def test_a_message_the_database_refuses_is_rejected_alone(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(0)
    ingest.registry.poison = {"T-0333"}
    release = _stalled(ingest.writer)
    ids = [f"T-{i:04d}" for i in range(1, 1001)]
    for device_id in ids:
        ingest.writer.submit(acks.message(device_topic(device_id, Channel.BIRTH), birth(device_id)))
    release.set()

    assert len(acks.wait(1000)) == 1000
    assert ingest.stats.rejects.counts() == {**ZERO, "store-failed": 1}
    assert ingest.registry.get_device("T-0333") is None
    assert all(ingest.registry.get_device(d) is not None for d in ids if d != "T-0333")
    # Halves, not one transaction per message.
    assert ingest.registry.attempts < 40


def test_a_session_far_ahead_of_the_clock_is_rejected_and_counted(
    make_ingest: Callable[[int], Ingest], acks: Acks
) -> None:
    ingest = make_ingest(0)
    topic = device_topic("T-7", Channel.BIRTH)
    ingest.writer.submit(acks.message(topic, birth("T-7", seq=2**52)))
    ingest.writer.submit(acks.message(topic, birth("T-7")))

    assert len(acks.wait(2)) == 2
    assert ingest.stats.rejects.counts() == {**ZERO, "session-ahead": 1}
    device = ingest.registry.get_device("T-7")
    assert device is not None and device.online and device.presence_seq == S1
