"""Presence: device rows, births and deaths (the rules are in the package docstring).

Each event is read, decided by a pure function, then written with a compare-and-set on what was
read, so that two managers on one PostgreSQL database cannot both act on the same old state;
births and deaths are rare (one of each per connection), so a statement per event costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, case, insert, or_, select, update

from fleet.manager.models import NO_PRESENCE_SEQ
from fleet.manager.registry import config
from fleet.manager.registry._sql import DEV, EVT, upsert_insert
from fleet.manager.registry.outcome import BatchOutcome
from fleet.protocol import Birth, Death, PresenceKind

log = logging.getLogger(__name__)

_RETRIES = 5  # compare-and-set rounds before giving up on one event (another manager raced)


@dataclass(frozen=True)
class PresenceState:
    seq: int
    kind: PresenceKind
    online: bool
    pending_death_seq: int | None
    pending_death_reason: str | None

    @property
    def born(self) -> bool:
        """The current session (`seq`) has a birth and no death."""
        return self.seq != NO_PRESENCE_SEQ and self.kind is PresenceKind.BIRTH


def touch_devices(conn: Connection, device_ids: set[str], now: datetime) -> None:
    """Advance last_seen of every device in the batch; create the unknown ones."""
    ids = sorted(device_ids)
    # Every manager locks the batch's rows in one order, first: an UPDATE ... IN (...) locks
    # them in whatever order its plan visits them (a bitmap scan: heap order), and two managers
    # sharing a PostgreSQL database then deadlock. Later writes of the batch touch only rows of
    # these devices, so they queue behind these locks. (SQLite: BEGIN IMMEDIATE already.)
    conn.execute(select(DEV.c.id).where(DEV.c.id.in_(ids)).order_by(DEV.c.id).with_for_update())
    # One statement for the whole batch: it shares one `now`. Its row count says whether any
    # device is new (rows can disappear: the sweep expires devices that never became healthy).
    touched = conn.execute(update(DEV).where(DEV.c.id.in_(ids)).values(last_seen=now))
    if touched.rowcount == len(ids):
        return
    ins = upsert_insert(conn)(DEV)
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
            for device_id in ids
        ],
    )


def read_state(conn: Connection, device_id: str) -> PresenceState | None:
    row = conn.execute(
        select(DEV.c.presence_seq, DEV.c.presence_kind, DEV.c.online, DEV.c.pending_death_seq,
               DEV.c.pending_death_reason)
        .where(DEV.c.id == device_id)
        .with_for_update()
    ).first()
    return None if row is None else state_of(row)


def state_of(row: Row) -> PresenceState:
    return PresenceState(row.presence_seq, PresenceKind(row.presence_kind), bool(row.online),
                         row.pending_death_seq, row.pending_death_reason)


def _unchanged(device_id: str, state: PresenceState) -> object:
    """SQL: the row still holds `state` (compare-and-set)."""
    pending = (DEV.c.pending_death_seq.is_(None) if state.pending_death_seq is None
               else DEV.c.pending_death_seq == state.pending_death_seq)
    return (DEV.c.id == device_id) & (DEV.c.presence_seq == state.seq) & (
        DEV.c.presence_kind == int(state.kind)) & (DEV.c.online == state.online) & pending


def apply_birth(conn: Connection, birth: Birth, now: datetime, out: BatchOutcome) -> None:
    seq = birth.session_seq
    for _ in range(_RETRIES):
        state = read_state(conn, birth.device_id)
        if state is None:
            return
        newer = (seq, PresenceKind.BIRTH) > (state.seq, state.kind)
        if not newer:
            out.presence_ignored += 1
            log.info("ignored birth of %s for session_seq %d: not newer than the accepted event",
                     birth.device_id, seq)
            break
        # Its own death was processed first: the session is over already.
        dead = state.pending_death_seq == seq
        result = conn.execute(
            update(DEV)
            .where(_unchanged(birth.device_id, state))
            .values(
                presence_seq=seq,
                presence_kind=int(PresenceKind.DEATH if dead else PresenceKind.BIRTH),
                online=not dead,
                presence_reason=state.pending_death_reason if dead else None,
                presence_at=now,
                # A pending death of an even newer session stays pending.
                pending_death_seq=case((DEV.c.pending_death_seq > seq, DEV.c.pending_death_seq),
                                       else_=None),
                pending_death_reason=case(
                    (DEV.c.pending_death_seq > seq, DEV.c.pending_death_reason), else_=None),
            )
        )
        if not result.rowcount:
            continue  # another manager moved the row since the read
        out.presence_accepted += 1
        record_event(conn, birth.device_id, "birth", seq, None, birth.ts, now)
        if dead:
            record_event(conn, birth.device_id, "death", seq, state.pending_death_reason, None,
                         now)
            log.info("%s birth and death of session_seq %d (the death came first)",
                     birth.device_id, seq)
        else:
            out.reborn.append(birth.device_id)
            log.info("%s online (session_seq %d)", birth.device_id, seq)
        break
    # Birth details are kept even when presence already moved on (the birth of the current
    # session may be processed after its death).
    newest = conn.execute(
        update(DEV)
        .where(DEV.c.id == birth.device_id,
               or_(DEV.c.birth_seq.is_(None), DEV.c.birth_seq <= seq))
        .values(
            birth_seq=seq,
            site=birth.site,
            app_version=birth.app_version,
            agent_version=birth.agent_version,
            hostname=birth.hostname,
            health_interval_s=birth.health_interval_s,
        )
    )
    if newest.rowcount:
        config.record_birth(conn, birth, now)


def apply_death(conn: Connection, death: Death, now: datetime, out: BatchOutcome) -> None:
    seq = death.session_seq
    for _ in range(_RETRIES):
        state = read_state(conn, death.device_id)
        if state is None:
            return
        if state.born and state.seq == seq:
            values: dict[str, object] = {
                "presence_kind": int(PresenceKind.DEATH), "online": False,
                "presence_reason": death.reason, "presence_at": now,
            }
            accepted = True
        elif seq > state.seq and (state.pending_death_seq is None
                                  or seq > state.pending_death_seq):
            # A session not born here (yet): remembered for its birth, moves nothing now.
            values = {"pending_death_seq": seq, "pending_death_reason": death.reason}
            accepted = False
        else:
            out.presence_ignored += 1
            log.info("ignored death of %s for session_seq %d: not its current session",
                     death.device_id, seq)
            return
        result = conn.execute(update(DEV).where(_unchanged(death.device_id, state)).values(values))
        if not result.rowcount:
            continue
        if accepted:
            out.presence_accepted += 1
            record_event(conn, death.device_id, "death", seq, death.reason, death.ts, now)
            log.info("%s offline (session_seq %d, %s)", death.device_id, seq, death.reason)
        else:
            out.presence_ignored += 1
            log.info("death of %s for session_seq %d kept for its birth (not born here yet)",
                     death.device_id, seq)
        return
    log.warning("gave up on a death of %s: the row kept changing", death.device_id)


def record_event(conn: Connection, device_id: str, kind: str, seq: int | None, reason: str | None,
            sent_at: datetime | None, now: datetime) -> None:
    conn.execute(insert(EVT).values(device_id=device_id, kind=kind, session_seq=seq,
                                    reason=reason, sent_at=sent_at, recorded_at=now))


