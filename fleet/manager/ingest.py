"""MQTT ingest: the network thread only queues; one writer thread decodes, applies batches in
one transaction each, and acknowledges the messages after the commit.

Writing SQLite inside the MQTT callback stalls the network loop (WAL checkpoints), and a commit
per message caps ingest far below the network (shared/docs/fleet-notes.md). Acknowledging after
the commit means a crash loses nothing the broker still holds for us; every registry update is
idempotent, so a redelivered message is harmless.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from fleet.manager.registry import BatchOutcome, Registry
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
    utc_now,
)

log = logging.getLogger(__name__)

_COMMAND_SUFFIX = "/" + Channel.COMMAND.value
LOADED_BATCH = 100  # a batch this big means messages arrive faster than single writes


class _Stop:
    pass


class _LogBudget:
    """At most `per_minute` warnings a minute: a terminal sending garbage must not flood logs."""

    def __init__(self, per_minute: int = 20) -> None:
        self._per_minute = per_minute
        self._window_start = time.monotonic()
        self._used = 0
        self._suppressed = 0

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window_start >= 60:
            if self._suppressed:
                log.warning("%d more dropped messages in the last minute", self._suppressed)
            self._window_start, self._used, self._suppressed = now, 0, 0
        if self._used < self._per_minute:
            self._used += 1
            log.warning(msg, *args)
        else:
            self._suppressed += 1


_STOP = _Stop()


class IngestWriter:
    def __init__(
        self,
        registry: Registry,
        stats: IngestStats,
        *,
        on_reborn: Callable[[list[str]], None],
        batch_max: int = 2000,
        linger_s: float = 0.02,
    ) -> None:
        self._registry = registry
        self._stats = stats
        self._on_reborn = on_reborn
        self._batch_max = batch_max
        self._linger_s = linger_s
        self._loaded = False
        self._queue: queue.SimpleQueue[IncomingMessage | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._abandon = threading.Event()
        self._invalid_log = _LogBudget()

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
                # A bug, not a database outage (those are retried): drop the batch rather than
                # leave it unacknowledged, where it would hold the broker's window forever.
                log.exception("ingest batch of %d failed; dropping it", len(batch))
                for message in batch:
                    message.ack()
            if stop_after or self._abandon.is_set():
                return

    def _decode(self, batch: Sequence[IncomingMessage]) -> list[Payload]:
        payloads: list[Payload] = []
        for message in batch:
            try:
                topic = parse_device_topic(message.topic)
                if topic.channel not in AGENT_CHANNELS:
                    continue
                payload = decode_for_channel(topic.channel, message.payload)
                if payload.device_id != topic.device_id:
                    # The broker ACL vouches for the topic, not for the payload.
                    raise ProtocolError("device_id in the payload differs from the topic")
            except (TopicError, ProtocolError) as exc:
                self._stats.invalid += 1
                self._invalid_log.warning("dropped a message on %s: %s", message.topic, exc)
                continue
            payloads.append(payload)
        return payloads

    def _process(self, batch: list[IncomingMessage]) -> None:
        payloads = self._decode(batch)
        outcome = self._apply(payloads)
        if outcome is None:
            return  # abandoned: not acknowledged
        committed = time.time()
        for message in batch:
            message.ack()
        stats = self._stats
        stats.ingested += len(payloads)
        stats.batches += 1
        stats.presence_accepted += outcome.presence_accepted
        stats.presence_ignored += outcome.presence_ignored
        stats.results_applied += outcome.results_applied
        stats.results_ignored += outcome.results_ignored
        stats.last_committed_at = committed
        stats.add_latencies(
            [(committed - p.ts.timestamp()) * 1000.0 for p in payloads if isinstance(p, Health)]
        )
        if outcome.reborn:
            self._on_reborn(outcome.reborn)

    def _apply(self, payloads: list[Payload]) -> BatchOutcome | None:
        delay = 0.1
        while True:
            now: datetime = utc_now()
            try:
                return self._registry.apply_batch(payloads, now)
            except OperationalError as exc:
                # Transient (locked, connection lost, disk full): retry; the broker holds back
                # further messages once our receive maximum is reached.
                self._stats.db_errors += 1
                log.warning("registry write failed (%s); retrying in %.1fs", exc.orig, delay)
            except SQLAlchemyError:
                # Not transient: find the message that breaks the batch rather than retry forever.
                self._stats.db_errors += 1
                if len(payloads) == 1:
                    log.exception("dropping a %s message the registry rejects",
                                  payloads[0].SCHEMA)
                    return BatchOutcome()
                log.exception("batch of %d rejected; applying one by one", len(payloads))
                merged = BatchOutcome()
                for p in payloads:
                    one = self._apply([p])
                    if one is None:
                        return None
                    _merge(merged, one)
                return merged
            if self._abandon.wait(delay):
                return None
            delay = min(delay * 2, 5.0)


def _merge(into: BatchOutcome, other: BatchOutcome) -> None:
    into.reborn.extend(other.reborn)
    into.presence_accepted += other.presence_accepted
    into.presence_ignored += other.presence_ignored
    into.results_applied += other.results_applied
    into.results_ignored += other.results_ignored
