"""The device registry: applies batches of received messages and answers queries.

Every write is a conditional update, so any number of manager processes (sharing one database,
each receiving its share of the messages) converge on the same state whatever order the
messages arrive in:

- presence: accepted only if `(session_seq, kind)` is newer than the stored one (birth < death);
- health from a newer session counts as that session's birth (its birth may be processed later,
  by another manager); health from the current, live session keeps the device online;
- the newest health by `(session_seq, seq)` is the one kept;
- a command result is applied once, to a command of the device that sent it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    and_,
    bindparam,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from fleet.manager.db import Database
from fleet.manager.models import (
    DELIVERABLE_STATES,
    NO_PRESENCE_SEQ,
    OPEN_STATES,
    TABLES,
    CommandRecord,
    CommandState,
    Device,
    HealthSample,
    PresenceEvent,
)
from fleet.protocol import Birth, CommandResult, Death, Health, Payload, PresenceKind

log = logging.getLogger(__name__)

DEV = Device.__table__
CMD = CommandRecord.__table__
EVT = PresenceEvent.__table__
SAMPLE = HealthSample.__table__

_HEALTH_FIELDS = {"ts", "session_seq", "seq", "app_version", "system", "kiosk", "peripherals"}


@dataclass
class BatchOutcome:
    reborn: list[str] = field(default_factory=list)  # devices whose birth was accepted
    presence_accepted: int = 0
    presence_ignored: int = 0
    results_applied: int = 0
    results_ignored: int = 0


def _presence_newer(seq: Any, kind: Any) -> Any:
    """SQL: (seq, kind) > the stored (presence_seq, presence_kind)."""
    return or_(
        DEV.c.presence_seq < seq, and_(DEV.c.presence_seq == seq, DEV.c.presence_kind < kind)
    )


class Registry:
    def __init__(self, db: Database, *, history_interval_s: float = 300.0) -> None:
        self.db = db
        self.history_interval_s = history_interval_s
        # Per process: with N managers, up to N samples per device per interval. Good enough
        # for downsampling, and it costs no read per message.
        self._last_sample: dict[str, float] = {}
        # Devices known to exist (rows are never deleted), so a batch inserts only new ones.
        # Filled after a commit, so a rolled-back insert is retried.
        self._known_devices: set[str] = set()

    def create_schema(self) -> None:
        # In a write transaction: several processes starting at once create the tables once.
        with self.db.write.begin() as conn:
            # SQLModel's metadata holds every SQLModel table in the process: create only ours.
            SQLModel.metadata.create_all(conn, tables=TABLES)

    def ping(self) -> bool:
        try:
            with self.db.read.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("database check failed", exc_info=True)
            return False
        return True

    # -- ingest -------------------------------------------------------------------------------

    def _insert(self) -> Any:
        if self.db.dialect == "postgresql":
            return postgresql.insert
        if self.db.dialect == "sqlite":
            return sqlite.insert
        raise NotImplementedError(f"registry upserts not written for {self.db.dialect}")

    def _touch_devices(self, conn: Connection, device_ids: set[str], now: datetime) -> None:
        """Create unknown devices; advance last_seen of all of them."""
        new = sorted(device_ids - self._known_devices)
        if new:
            ins: Insert = self._insert()(DEV)
            # Sorted: every manager locks rows in the same order (no deadlocks on PostgreSQL).
            conn.execute(
                ins.on_conflict_do_nothing(index_elements=[DEV.c.id]),
                [
                    {
                        "id": device_id,
                        "online": False,
                        "presence_seq": NO_PRESENCE_SEQ,
                        "presence_kind": int(PresenceKind.DEATH),
                        "first_seen": now,
                        "last_seen": now,
                    }
                    for device_id in new
                ],
            )
        # One statement for the whole batch: it shares one `now`.
        conn.execute(
            update(DEV).where(DEV.c.id.in_(sorted(device_ids))).values(last_seen=now)
        )

    def _apply_presence(
        self, conn: Connection, event: Birth | Death, now: datetime, out: BatchOutcome
    ) -> None:
        birth = isinstance(event, Birth)
        kind = PresenceKind.BIRTH if birth else PresenceKind.DEATH
        reason = None if birth else event.reason  # type: ignore[union-attr]
        result = conn.execute(
            update(DEV)
            .where(DEV.c.id == event.device_id, _presence_newer(event.session_seq, int(kind)))
            .values(
                presence_seq=event.session_seq,
                presence_kind=int(kind),
                online=birth,
                presence_reason=reason,
                presence_at=now,
            )
        )
        if result.rowcount:
            out.presence_accepted += 1
            conn.execute(
                insert(EVT).values(
                    device_id=event.device_id,
                    kind="birth" if birth else "death",
                    session_seq=event.session_seq,
                    reason=reason,
                    sent_at=event.ts,
                    recorded_at=now,
                )
            )
            if birth:
                out.reborn.append(event.device_id)
            log.info(
                "%s %s (session_seq %d%s)", event.device_id, "online" if birth else "offline",
                event.session_seq, f", {reason}" if reason else "",
            )
        else:
            out.presence_ignored += 1
            log.info(
                "ignored %s of %s for session_seq %d: not newer than the accepted event",
                kind.name.lower(), event.device_id, event.session_seq,
            )
        if birth:
            # Birth details are kept even when presence already moved on (the birth of the
            # current session may arrive after its health did).
            assert isinstance(event, Birth)
            conn.execute(
                update(DEV)
                .where(
                    DEV.c.id == event.device_id,
                    or_(DEV.c.birth_seq.is_(None), DEV.c.birth_seq <= event.session_seq),
                )
                .values(
                    birth_seq=event.session_seq,
                    site=event.site,
                    app_version=event.app_version,
                    agent_version=event.agent_version,
                    hostname=event.hostname,
                    health_interval_s=event.health_interval_s,
                )
            )

    def _apply_liveness(
        self, conn: Connection, latest: dict[str, Health], now: datetime, out: BatchOutcome
    ) -> None:
        """Health from a newer session is that session's (implicit) birth: its real birth may be
        lost (published before any manager had resubscribed after a broker restart) or be
        processed later by another manager. Health from the live session brings back a device
        the sweeper had timed out. Health from an older or dead session changes no presence."""
        rows = conn.execute(
            select(DEV.c.id, DEV.c.presence_seq, DEV.c.presence_kind, DEV.c.online).where(
                DEV.c.id.in_(list(latest))
            )
        ).all()
        for row in rows:
            h = latest[row.id]
            if row.presence_seq < h.session_seq:
                kind = "birth"
            elif (row.presence_seq == h.session_seq and row.presence_kind == PresenceKind.BIRTH
                  and not row.online):
                kind = "resumed"
            else:
                continue
            # Conditional again, and one row at a time to learn whether it applied: on
            # PostgreSQL another manager may have moved on since the read. Rare (new sessions
            # and timed-out devices only), so the per-row statement costs nothing in bulk.
            result = conn.execute(
                update(DEV)
                .where(
                    DEV.c.id == row.id,
                    or_(
                        DEV.c.presence_seq < h.session_seq,
                        and_(
                            DEV.c.presence_seq == h.session_seq,
                            DEV.c.presence_kind == int(PresenceKind.BIRTH),
                            not_(DEV.c.online),
                        ),
                    ),
                )
                .values(
                    presence_seq=h.session_seq,
                    presence_kind=int(PresenceKind.BIRTH),
                    online=True,
                    presence_reason=None,
                    presence_at=now,
                )
            )
            if not result.rowcount:
                continue
            conn.execute(
                insert(EVT).values(device_id=row.id, kind=kind, session_seq=h.session_seq,
                                   reason="health", sent_at=h.ts, recorded_at=now)
            )
            out.presence_accepted += 1
            if kind == "birth":
                out.reborn.append(row.id)
                log.info("%s online (session_seq %d, from its health: birth not seen)",
                         row.id, h.session_seq)
            else:
                log.info("%s online again (session_seq %d)", row.id, h.session_seq)

    def _apply_health(
        self, conn: Connection, healths: Sequence[Health], now: datetime, out: BatchOutcome
    ) -> None:
        latest: dict[str, Health] = {}
        for h in healths:
            prev = latest.get(h.device_id)
            if prev is None or (h.session_seq, h.seq) > (prev.session_seq, prev.seq):
                latest[h.device_id] = h
        rows = [
            {
                "b_id": h.device_id,
                "b_ss": h.session_seq,
                "b_seq": h.seq,
                "b_ts": h.ts,
                "b_app": h.app_version,
                "b_health": h.model_dump(mode="json", include=_HEALTH_FIELDS),
            }
            for _, h in sorted(latest.items())
        ]
        self._apply_liveness(conn, latest, now, out)
        ss = bindparam("b_ss")
        conn.execute(
            update(DEV)
            .where(
                DEV.c.id == bindparam("b_id"),
                or_(
                    DEV.c.health_session_seq.is_(None),
                    DEV.c.health_session_seq < ss,
                    and_(DEV.c.health_session_seq == ss, DEV.c.health_seq < bindparam("b_seq")),
                ),
            )
            .values(
                health_session_seq=ss,
                health_seq=bindparam("b_seq"),
                health_ts=bindparam("b_ts"),
                app_version=bindparam("b_app"),
                health=bindparam("b_health"),
            ),
            rows,
        )
        if self.history_interval_s > 0:
            mono = time.monotonic()
            due = [r for r in rows if mono - self._last_sample.get(r["b_id"], -1e18)
                   >= self.history_interval_s]
            if due:
                conn.execute(
                    insert(SAMPLE),
                    [
                        {
                            "device_id": r["b_id"],
                            "session_seq": r["b_ss"],
                            "seq": r["b_seq"],
                            "ts": r["b_ts"],
                            "recorded_at": now,
                            "health": r["b_health"],
                        }
                        for r in due
                    ],
                )
                for r in due:
                    self._last_sample[r["b_id"]] = mono

    def _apply_result(
        self, conn: Connection, res: CommandResult, now: datetime, out: BatchOutcome
    ) -> None:
        result = conn.execute(
            update(CMD)
            .where(
                CMD.c.id == res.id,
                CMD.c.device_id == res.device_id,  # a terminal answers only its own commands
                CMD.c.status.in_(OPEN_STATES),
            )
            .values(status=res.status.value, output=res.output, answered_at=now)
        )
        if result.rowcount:
            out.results_applied += 1
            log.info("command %s on %s: %s", res.id, res.device_id, res.status.value)
        else:
            out.results_ignored += 1
            log.debug("ignored result for command %s (unknown, or already answered)", res.id)

    def apply_batch(self, payloads: Sequence[Payload], now: datetime) -> BatchOutcome:
        """Apply decoded messages in one transaction."""
        out = BatchOutcome()
        if not payloads:
            return out
        healths: list[Health] = []
        device_ids = {p.device_id for p in payloads}
        with self.db.write.begin() as conn:
            self._touch_devices(conn, device_ids, now)
            for p in payloads:  # presence in arrival order (the outcome does not depend on it)
                if isinstance(p, Birth | Death):
                    self._apply_presence(conn, p, now, out)
                elif isinstance(p, Health):
                    healths.append(p)
            if healths:
                self._apply_health(conn, healths, now, out)
            for p in payloads:
                if isinstance(p, CommandResult):
                    self._apply_result(conn, p, now, out)
        self._known_devices |= device_ids
        return out

    # -- inactivity ---------------------------------------------------------------------------

    def sweep_offline(self, now: datetime, offline_after_s: float) -> list[str]:
        """Mark offline the online devices silent for max(offline_after_s, 3 health intervals)."""
        cutoff = now - timedelta(seconds=offline_after_s)
        with self.db.read.connect() as conn:
            rows = conn.execute(
                select(DEV.c.id, DEV.c.last_seen, DEV.c.health_interval_s).where(
                    DEV.c.online, DEV.c.last_seen < cutoff
                )
            ).all()
        stale = [
            (r.id, r.last_seen)
            for r in rows
            if r.last_seen < now - timedelta(seconds=max(offline_after_s,
                                                         3 * (r.health_interval_s or 0)))
        ]
        if not stale:
            return []
        timed_out: list[str] = []
        with self.db.write.begin() as conn:
            for device_id, seen in stale:
                # Conditional: a message that arrived since the read keeps the device online.
                result = conn.execute(
                    update(DEV)
                    .where(DEV.c.id == device_id, DEV.c.online, DEV.c.last_seen <= seen)
                    .values(online=False, presence_reason="timeout", presence_at=now)
                )
                if result.rowcount:
                    timed_out.append(device_id)
                    conn.execute(
                        insert(EVT).values(
                            device_id=device_id, kind="timeout", reason="timeout",
                            recorded_at=now,
                        )
                    )
        for device_id in timed_out:
            log.warning("%s offline: nothing heard for %.0fs", device_id, offline_after_s)
        return timed_out

    def time_out_commands(self, now: datetime) -> int:
        with self.db.write.begin() as conn:
            result = conn.execute(
                update(CMD)
                .where(CMD.c.status.in_(DELIVERABLE_STATES), CMD.c.expires_at < now)
                .values(status=CommandState.TIMED_OUT.value)
            )
        return max(result.rowcount, 0)

    # -- queries ------------------------------------------------------------------------------

    def get_device(self, device_id: str) -> Device | None:
        with Session(self.db.read) as session:
            return session.get(Device, device_id)

    def list_devices(
        self, *, site: str | None, online: bool | None, after: str | None, limit: int
    ) -> list[Device]:
        stmt = select(Device).order_by(col(Device.id)).limit(limit)
        if site is not None:
            stmt = stmt.where(col(Device.site) == site)
        if online is not None:
            stmt = stmt.where(col(Device.online) == online)
        if after is not None:
            stmt = stmt.where(col(Device.id) > after)
        with Session(self.db.read) as session:
            return list(session.scalars(stmt).all())

    def presence_events(self, device_id: str, limit: int) -> list[PresenceEvent]:
        stmt = (
            select(PresenceEvent)
            .where(col(PresenceEvent.device_id) == device_id)
            .order_by(col(PresenceEvent.id).desc())
            .limit(limit)
        )
        with Session(self.db.read) as session:
            return list(session.scalars(stmt).all())

    def get_command(self, command_id: str) -> CommandRecord | None:
        with Session(self.db.read) as session:
            return session.get(CommandRecord, command_id)

    def find_command(self, device_id: str, idempotency_key: str) -> CommandRecord | None:
        stmt = select(CommandRecord).where(
            col(CommandRecord.device_id) == device_id,
            col(CommandRecord.idempotency_key) == idempotency_key,
        )
        with Session(self.db.read) as session:
            return session.scalars(stmt).first()

    def insert_command(self, record: CommandRecord) -> None:
        """Raises sqlalchemy.exc.IntegrityError if (device, idempotency key) exists."""
        with self.db.write.begin() as conn:
            conn.execute(insert(CMD).values(**record.model_dump()))

    def mark_sent(self, command_id: str, now: datetime) -> None:
        with self.db.write.begin() as conn:
            conn.execute(
                update(CMD)
                .where(CMD.c.id == command_id, CMD.c.status == CommandState.PENDING.value)
                .values(status=CommandState.SENT.value, sent_at=now)
            )

    def deliverable_commands(self, device_ids: Sequence[str], now: datetime) -> list[CommandRecord]:
        stmt = (
            select(CommandRecord)
            .where(
                col(CommandRecord.device_id).in_(device_ids),
                col(CommandRecord.status).in_(DELIVERABLE_STATES),
                col(CommandRecord.expires_at) > now,
            )
            .order_by(col(CommandRecord.issued_at))
        )
        with Session(self.db.read) as session:
            return list(session.scalars(stmt).all())

