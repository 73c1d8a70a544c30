"""The device registry: applies batches of received messages and answers queries.

Every write is conditional, so any number of manager processes (sharing one database, each
receiving its share of the messages) converge on the same state whatever order the messages
arrive in. Devices are authenticated by the broker but may be buggy, so no message can make
presence lie for longer than the sweep allows. The rules (docs/contracts/fleet-mqtt.md):

- session_seq is time-based (fleet/protocol/presence.py): a birth, death or health whose
  session_seq is more than `max_session_ahead_s` ahead of this manager's clock is rejected
  (`session-ahead`): it could otherwise win every later comparison and freeze the device.
- Only a birth opens a session. It is accepted when `(session_seq, birth)` is newer than the
  last accepted `(session_seq, kind)` (birth < death); its details are kept even when presence
  has already moved on.
- A death moves presence only when it is the death of the current session (same session_seq
  as the accepted birth). A death of a newer session, whose birth has not been processed here
  (another manager was faster with the Will), is kept aside: if that birth comes, it lands
  offline. Any other death changes nothing.
- Health moves presence only within the current session: it brings back a device the sweep had
  timed out, and the newest health by `(session_seq, seq)` of the current session is the one
  kept. Health from a session with no birth here invents nothing: the device is asked to
  announce its session again (`rebirth`); health from an older session is ignored.
- A device silent for longer than max(offline_after_s, 3 of its own health intervals, at most a
  day each) is timed out; devices that never sent a stored health are forgotten after
  `unconfirmed_retention_s` (forged ids leave no ghost terminals).
- A command result is applied once, to a command of the device that sent it.
- A job keeps its message with the highest `update`, and only if a command of the same device
  started it (registry/jobs.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlmodel import Session

from common.clock import utc_now
from fleet.manager.db import Database
from fleet.manager.models import CommandRecord, Device, DeviceConfig, JobRecord, PresenceEvent
from fleet.manager.registry import commands, config, health, jobs, presence, queries, sweep
from fleet.manager.registry.outcome import BatchOutcome, RejectReason
from fleet.protocol import Birth, CommandResult, Death, Health, JobUpdate, Payload

__all__ = ["BatchOutcome", "Registry", "RejectReason"]

log = logging.getLogger(__name__)

DEFAULT_MAX_SESSION_AHEAD_S = 600.0


class Registry:
    def __init__(
        self,
        db: Database,
        *,
        history_interval_s: float = 300.0,
        max_session_ahead_s: float = DEFAULT_MAX_SESSION_AHEAD_S,
    ) -> None:
        self.db = db
        self.history_interval_s = history_interval_s
        self.max_session_ahead_s = max_session_ahead_s
        # Per process: with N managers, up to N samples per device per interval. Good enough
        # for downsampling, and it costs no read per message.
        self._last_sample: dict[str, float] = {}

    def ping(self) -> bool:
        try:
            with self.db.read.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("database check failed", exc_info=True)
            return False
        return True

    # -- ingest -------------------------------------------------------------------------------

    def session_horizon(self, now: datetime) -> int:
        """The highest plausible session_seq at `now` (ms since the epoch, plus the margin)."""
        return int((now.timestamp() + self.max_session_ahead_s) * 1000)

    def apply_batch(self, payloads: Sequence[Payload], now: datetime) -> BatchOutcome:
        """Apply decoded messages in one transaction (all or none: the caller splits a batch
        that fails, so that a bad message is rejected alone)."""
        out = BatchOutcome()
        horizon = self.session_horizon(now)
        accepted: list[Payload] = []
        for p in payloads:
            if isinstance(p, Birth | Death | Health) and p.session_seq > horizon:
                out.rejected.append((p, RejectReason.SESSION_AHEAD))
            else:
                accepted.append(p)
        if not accepted:
            return out
        with self.db.write.begin() as conn:
            samples = self._apply(conn, accepted, now, out)
        if samples:
            mono = time.monotonic()
            for device_id in samples:
                self._last_sample[device_id] = mono
        return out

    def _apply(
        self, conn: Connection, payloads: list[Payload], now: datetime, out: BatchOutcome
    ) -> list[str]:
        presence.touch_devices(conn, {p.device_id for p in payloads}, now)
        healths: list[Health] = []
        for p in payloads:  # presence in arrival order (the outcome does not depend on it)
            if isinstance(p, Birth):
                presence.apply_birth(conn, p, now, out)
            elif isinstance(p, Death):
                presence.apply_death(conn, p, now, out)
            elif isinstance(p, Health):
                healths.append(p)
        sampled: list[str] = []
        if healths:
            stored = health.apply_health(conn, healths, now, out)
            if self.history_interval_s > 0 and stored:
                mono = time.monotonic()
                due = [r for r in stored if mono - self._last_sample.get(r["b_id"], -1e18)
                       >= self.history_interval_s]
                if due:
                    health.insert_samples(conn, due, now)
                    sampled = [r["b_id"] for r in due]
        for p in payloads:
            if isinstance(p, CommandResult):
                commands.apply_result(conn, p, now, out)
                if "config" in p.output:  # a set-config result says what the terminal runs
                    config.record_result(conn, p, now)
        # After the results: a job's start command is stored before its first job message.
        job_updates = [p for p in payloads if isinstance(p, JobUpdate)]
        if job_updates:
            jobs.apply_jobs(conn, job_updates, now, out)
        return sampled

    # -- inactivity ---------------------------------------------------------------------------

    def sweep_offline(self, now: datetime, offline_after_s: float) -> list[str]:
        """Mark offline the online devices silent for longer than they are allowed."""
        with self.db.read.connect() as conn:
            stale = sweep.stale_devices(conn, now, offline_after_s)
        timed_out: list[str] = []
        for item in stale:
            try:
                with self.db.write.begin() as conn:
                    if sweep.time_out(conn, item, now):
                        timed_out.append(item.device_id)
            except Exception:
                # One device's row must not stop the sweep for the others.
                log.exception("could not time out %s", item.device_id)
        for device_id in timed_out:
            log.warning("%s offline: nothing heard for too long", device_id)
        return timed_out

    def expire_unconfirmed(self, now: datetime, retention_s: float) -> list[str]:
        with self.db.write.begin() as conn:
            gone = sweep.expire_unconfirmed(conn, now, retention_s)
        if gone:
            log.info("forgot %d devices that never became healthy in %s: %s", len(gone),
                     timedelta(seconds=retention_s), ", ".join(gone[:10]))
        return gone

    def time_out_commands(self, now: datetime) -> int:
        with self.db.write.begin() as conn:
            return commands.time_out_commands(conn, now)

    # -- queries ------------------------------------------------------------------------------

    def get_device(self, device_id: str) -> Device | None:
        with Session(self.db.read) as session:
            return queries.get_device(session, device_id)

    def list_devices(
        self, *, site: str | None, online: bool | None, after: str | None, limit: int
    ) -> list[Device]:
        with Session(self.db.read) as session:
            return queries.list_devices(session, site=site, online=online, after=after,
                                        limit=limit)

    def presence_events(self, device_id: str, limit: int) -> list[PresenceEvent]:
        with Session(self.db.read) as session:
            return queries.presence_events(session, device_id, limit)

    def set_labels(self, device_id: str, region: str | None, tags: list[str]) -> None:
        with self.db.write.begin() as conn:
            queries.set_labels(conn, device_id, region, tags, utc_now())

    # -- commands -----------------------------------------------------------------------------

    def get_command(self, command_id: str) -> CommandRecord | None:
        with Session(self.db.read) as session:
            return commands.get_command(session, command_id)

    def find_command(self, device_id: str, idempotency_key: str) -> CommandRecord | None:
        with Session(self.db.read) as session:
            return commands.find_command(session, device_id, idempotency_key)

    def insert_command(self, record: CommandRecord) -> None:
        """Raises sqlalchemy.exc.IntegrityError if (device, idempotency key) exists."""
        with self.db.write.begin() as conn:
            commands.insert_command(conn, record)

    def mark_sent(self, command_id: str, now: datetime) -> None:
        with self.db.write.begin() as conn:
            commands.mark_sent(conn, command_id, now)

    def get_job(self, device_id: str, job_id: str) -> JobRecord | None:
        with Session(self.db.read) as session:
            return jobs.get_job(session, device_id, job_id)

    def jobs_of(self, device_id: str, limit: int) -> list[JobRecord]:
        with Session(self.db.read) as session:
            return jobs.jobs_of(session, device_id, limit)

    def mark_sent_many(self, command_ids: Sequence[str], now: datetime) -> None:
        with self.db.write.begin() as conn:
            for command_id in command_ids:
                commands.mark_sent(conn, command_id, now)

    def deliverable_commands(self, device_ids: Sequence[str], now: datetime) -> list[CommandRecord]:
        with Session(self.db.read) as session:
            return commands.deliverable_commands(session, device_ids, now)

    # -- configuration --------------------------------------------------------------------------

    def get_config(self, device_id: str) -> DeviceConfig | None:
        with Session(self.db.read) as session:
            return config.get_config(session, device_id)

    def set_desired(
        self, device_id: str, desired: dict[str, Any], base_revision: int | None, ttl_s: int
    ) -> tuple[DeviceConfig, CommandRecord] | None:
        """Raises sqlalchemy.exc.IntegrityError when another manager stored the same revision
        at the same moment (the caller asks the client to try again)."""
        with self.db.write.begin() as conn:
            return config.set_desired(conn, device_id, desired, base_revision, utc_now(), ttl_s)

    def configs_behind(self, device_ids: Sequence[str], now: datetime) -> list[DeviceConfig]:
        with Session(self.db.read) as session:
            return config.behind(session, list(device_ids), now)
