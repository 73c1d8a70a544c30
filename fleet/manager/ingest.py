"""MQTT ingest: the network thread only queues; one writer thread decodes, applies batches in
one transaction each, and acknowledges the messages after the commit.

Writing SQLite inside the MQTT callback stalls the network loop (WAL checkpoints), and a commit
per message caps ingest far below the network (shared/docs/fleet-notes.md). Acknowledging after
the commit means a crash loses nothing the broker still holds for us; every registry update is
idempotent, so a redelivered message is harmless.

One bad message is rejected alone, never with its batch: a message that does not decode, is out
of range, or that the database refuses is acknowledged without being stored and counted by
reason (`Rejects`). A batch the database refuses is split in halves until the culprits are
alone, so the others are stored in a few transactions more, not one per message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from common.backoff import Backoff
from common.clock import Clock, utc_now
from fleet.manager.registry import BatchOutcome, Registry, RejectReason
from fleet.manager.rejects import Rejects
from fleet.manager.stats import IngestStats
from fleet.mqtt import IncomingMessage
from fleet.protocol import (
    AGENT_CHANNELS,
    Channel,
    Health,
    Payload,
    ProtocolError,
    TopicError,
    decode_for_channel,
    parse_device_topic,
)

log = logging.getLogger(__name__)

_COMMAND_SUFFIX = "/" + Channel.COMMAND.value
LOADED_BATCH = 100  # a batch this big means messages arrive faster than single writes
_RETRY = Backoff(initial_s=0.1, max_s=5.0, factor=2.0, jitter=0.2)


class _Stop:
    pass


_STOP = _Stop()


@dataclass(frozen=True)
class _Item:
    payload: Payload
    topic: str


class IngestWriter:
    def __init__(
        self,
        registry: Registry,
        stats: IngestStats,
        *,
        on_reborn: Callable[[list[str]], None],
        on_unborn: Callable[[list[tuple[str, int]]], None] | None = None,
        batch_max: int = 2000,
        linger_s: float = 0.02,
        clock: Clock = utc_now,
    ) -> None:
        self._registry = registry
        self._stats = stats
        self._on_reborn = on_reborn
        self._on_unborn = on_unborn
        self._batch_max = batch_max
        self._linger_s = linger_s
        self._clock = clock
        self._loaded = False
        self._queue: queue.SimpleQueue[IncomingMessage | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._abandon = threading.Event()

    @property
    def rejects(self) -> Rejects:
        return self._stats.rejects

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def submit(self, message: IncomingMessage) -> None:
        """Network thread: as little work as possible."""
        stats = self._stats
        if stats.first_received_at is None:
            stats.first_received_at = message.received_at
        stats.received += 1
        if message.topic.endswith(_COMMAND_SUFFIX):
            # Managers' own commands come back through the shared subscription: not ours to store.
            message.ack()
            return
        self._queue.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Apply what is queued, then stop. After `timeout`, give up on the rest (unacknowledged,
        so a persistent session gets it again)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("ingest backlog not applied within %.0fs; abandoning it", timeout)
            self._abandon.set()
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            stop_after = False
            # Under load (the previous batch was big), linger a little for a fuller one: a
            # batch costs per device in it, not per message, so small batches waste the
            # writer. At low load a message is written at once.
            deadline = time.monotonic() + (self._linger_s if self._loaded else 0.0)
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if isinstance(item, _Stop):
                    stop_after = True
                    break
                batch.append(item)
            self._loaded = len(batch) >= LOADED_BATCH
            try:
                self._process(batch)
            except Exception:
                # A bug outside the registry (which isolates bad messages itself): the messages
                # are rejected, counted, and acknowledged rather than left unacknowledged, where
                # they would hold the broker's window for ever.
                log.exception("ingest of a batch of %d failed", len(batch))
                for message in batch:
                    self.rejects.reject(RejectReason.STORE_FAILED, message.topic, "ingest bug")
                    message.ack()
            if stop_after or self._abandon.is_set():
                return

    def _decode(self, batch: Sequence[IncomingMessage]) -> list[_Item]:
        items: list[_Item] = []
        for message in batch:
            try:
                topic = parse_device_topic(message.topic)
            except TopicError as exc:
                self.rejects.reject(RejectReason.TOPIC, message.topic[:200], str(exc))
                continue
            if topic.channel not in AGENT_CHANNELS:
                continue
            try:
                payload = decode_for_channel(topic.channel, message.payload)
            except (ProtocolError, ValueError) as exc:
                self.rejects.reject(RejectReason.DECODE, message.topic, str(exc)[:300])
                continue
            if payload.device_id != topic.device_id:
                # The broker ACL vouches for the topic, not for the payload.
                self.rejects.reject(RejectReason.DEVICE_MISMATCH, message.topic,
                                    "device_id in the payload differs from the topic")
                continue
            items.append(_Item(payload, message.topic))
        return items

    def _process(self, batch: list[IncomingMessage]) -> None:
        items = self._decode(batch)
        outcome = self._apply(items)
        if outcome is None:
            return  # abandoned: not acknowledged
        committed = time.time()
        rejected = {id(p) for p, _ in outcome.rejected}
        stored = [i.payload for i in items if id(i.payload) not in rejected]
        topics = {id(i.payload): i.topic for i in items}
        for payload, reason in outcome.rejected:
            self.rejects.reject(reason, topics.get(id(payload), payload.device_id),
                                f"{payload.SCHEMA} not stored")
        stats = self._stats
        stats.ingested += len(stored)
        stats.batches += 1
        stats.presence_accepted += outcome.presence_accepted
        stats.presence_ignored += outcome.presence_ignored
        stats.health_ignored += outcome.health_ignored
        stats.results_applied += outcome.results_applied
        stats.results_ignored += outcome.results_ignored
        stats.jobs_applied += outcome.jobs_applied
        stats.jobs_ignored += outcome.jobs_ignored
        stats.last_committed_at = committed
        stats.add_latencies(
            [(committed - p.ts.timestamp()) * 1000.0 for p in stored if isinstance(p, Health)]
        )
        for message in batch:
            message.ack()
        if outcome.reborn:
            self._on_reborn(outcome.reborn)
        if outcome.unborn and self._on_unborn is not None:
            self._on_unborn(outcome.unborn)

    def _apply(self, items: list[_Item]) -> BatchOutcome | None:
        """Apply `items`, isolating the ones the database refuses; None when abandoned."""
        payloads = [i.payload for i in items]
        attempt = 0
        while True:
            try:
                return self._registry.apply_batch(payloads, self._clock())
            except OperationalError as exc:
                # Transient (locked, connection lost, disk full): retry; the broker holds back
                # further messages once our receive maximum is reached.
                self._stats.db_errors += 1
                attempt += 1
                delay = _RETRY.delay(attempt)
                log.warning("registry write failed (%s); retrying in %.1fs", exc.orig, delay)
                if self._abandon.wait(delay):
                    return None
            except Exception as exc:
                # Not transient: something in this batch breaks it (an integer too large for
                # the column, a constraint). Reject the culprit alone, keep the rest.
                self._stats.db_errors += 1
                if len(items) == 1:
                    out = BatchOutcome()
                    out.rejected.append((items[0].payload, RejectReason.STORE_FAILED))
                    log.debug("registry refused a %s message: %s", items[0].payload.SCHEMA,
                              type(exc).__name__)
                    return out
                log.warning("a batch of %d failed to store (%s); isolating the culprit",
                            len(items), type(exc).__name__)
                merged = BatchOutcome()
                half = len(items) // 2
                for part in (items[:half], items[half:]):
                    one = self._apply(part)
                    if one is None:
                        return None
                    merged.merge(one)
                return merged
