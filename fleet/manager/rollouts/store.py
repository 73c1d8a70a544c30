"""Rollouts in the registry's database: creation (the selection is fixed once), one step of the
state machine per transaction, operator actions, and the views REST shows.

Every change runs in one write transaction that first locks the rollout's row (PostgreSQL:
`FOR UPDATE`, the ticker with `SKIP LOCKED` so that several managers share the rollouts instead
of queueing on them; SQLite: `BEGIN IMMEDIATE`, one writer). The commands a step sends are
inserted in that same transaction, with an idempotency key per (terminal, rollout, attempt),
before anything is published: after kill -9 the next step (of any manager) finds them stored,
publishes those still pending, and never creates a second `update` for a terminal.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from fleet.manager.db import Database
from fleet.manager.models import CommandRecord, CommandState
from fleet.manager.registry._sql import CMD, DEV, JOB, LABELS, ROLLOUT, TARGET
from fleet.manager.rollouts import machine
from fleet.manager.rollouts.machine import (
    CommandView,
    JobView,
    RolloutState,
    RolloutView,
    Step,
    TargetState,
    TargetView,
)
from fleet.manager.rollouts.spec import MAX_TARGETS, RolloutSpec, group_sizes, order_key
from fleet.protocol import new_command_id

log = logging.getLogger(__name__)

ACTIVE_STATES = (RolloutState.RUNNING.value, RolloutState.PAUSED.value,
                 RolloutState.ABORTED.value, RolloutState.SUCCEEDED.value)
#: Idempotency keys of the commands rollouts send start with this.
KEY_PREFIX = "rollout:"


class NotFound(Exception):
    pass


class NoTargets(Exception):
    """The filter selects no terminal (or only ones that run or took this version)."""


class KeyReused(Exception):
    """The Idempotency-Key was used for a different rollout."""


@dataclass(frozen=True)
class Selected:
    device_id: str
    app_version: str | None


# -- creation ---------------------------------------------------------------------------------


def select_devices(conn: Connection, spec: RolloutSpec) -> list[Selected]:
    """The terminals `spec.filter` selects, minus those that already run this version or took
    it in another rollout, and those in the middle of another rollout (unless `force`)."""
    f = spec.filter
    stmt = (select(DEV.c.id, DEV.c.app_version, LABELS.c.region, LABELS.c.tags)
            .select_from(DEV.outerjoin(LABELS, LABELS.c.device_id == DEV.c.id))
            .where(DEV.c.birth_seq.is_not(None)).order_by(DEV.c.id))
    if f.site is not None:
        stmt = stmt.where(DEV.c.site == f.site)
    if f.region is not None:
        stmt = stmt.where(LABELS.c.region == f.region)
    if f.versions:
        stmt = stmt.where(DEV.c.app_version.in_(f.versions))
    if f.device_ids is not None:
        stmt = stmt.where(DEV.c.id.in_(f.device_ids))
    rows = conn.execute(stmt.limit(MAX_TARGETS + 1)).all()
    if len(rows) > MAX_TARGETS:
        raise NoTargets(f"the filter selects more than {MAX_TARGETS} terminals")
    wanted = set(f.tags)
    rows = [r for r in rows if wanted <= set(r.tags or ())]
    busy: set[str] = set()
    if not spec.force:
        took = conn.execute(
            select(TARGET.c.device_id, TARGET.c.state, ROLLOUT.c.spec, ROLLOUT.c.finished_at)
            .select_from(TARGET.join(ROLLOUT, ROLLOUT.c.id == TARGET.c.rollout_id))
            .where(TARGET.c.device_id.in_([r.id for r in rows]))
        ).all() if rows else []
        for t in took:
            same = (t.spec or {}).get("version") == spec.version
            if same and t.state == TargetState.SUCCEEDED.value:
                busy.add(t.device_id)  # took this version already
            elif t.finished_at is None and t.state in (
                TargetState.SENT.value, TargetState.RUNNING.value, TargetState.SCHEDULED.value,
                TargetState.PENDING.value, TargetState.ROLLING_BACK.value,
            ):
                busy.add(t.device_id)  # in another rollout now
    return [Selected(r.id, r.app_version) for r in rows
            if r.id not in busy and (spec.force or r.app_version != spec.version)]


def create(db: Database, spec: RolloutSpec, idempotency_key: str, request_hash: str,
           now: datetime) -> tuple[str, bool]:
    """Store a rollout and its targets; returns (id, replayed)."""
    existing = find_by_key(db, idempotency_key)
    if existing is not None:
        if existing[1] != request_hash:
            raise KeyReused(idempotency_key)
        return existing[0], True
    seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(2**53)
    rollout_id = new_command_id()
    try:
        with db.write.begin() as conn:
            chosen = select_devices(conn, spec)
            if not chosen:
                raise NoTargets("the filter selects no terminal that needs this version")
            chosen.sort(key=lambda s: order_key(seed, s.device_id))
            sizes = group_sizes(len(chosen), spec.groups)
            stored = spec.model_copy(update={"seed": seed}).model_dump(mode="json")
            conn.execute(insert(ROLLOUT).values(
                id=rollout_id, name=spec.name, spec=stored, state=RolloutState.RUNNING.value,
                group_index=0, groups=len(sizes), total=len(chosen),
                idempotency_key=idempotency_key, request_hash=request_hash, created_at=now,
                updated_at=now, revision=1))
            rows, i = [], 0
            for g, size in enumerate(sizes):
                for position in range(size):
                    s = chosen[i]
                    i += 1
                    rows.append({"rollout_id": rollout_id, "device_id": s.device_id,
                                 "group_index": g, "position": position,
                                 "state": TargetState.PENDING.value,
                                 "previous_version": s.app_version, "attempt": 0,
                                 "updated_at": now})
            conn.execute(insert(TARGET), rows)
    except IntegrityError:
        existing = find_by_key(db, idempotency_key)  # the same key raced in
        if existing is None:
            raise
        if existing[1] != request_hash:
            raise KeyReused(idempotency_key) from None
        return existing[0], True
    log.info("rollout %s (%s): %s to %d terminals in %d groups", rollout_id, spec.name,
             spec.version, len(chosen), len(sizes))
    return rollout_id, False


def find_by_key(db: Database, key: str) -> tuple[str, str] | None:
    with db.read.connect() as conn:
        row = conn.execute(select(ROLLOUT.c.id, ROLLOUT.c.request_hash)
                           .where(ROLLOUT.c.idempotency_key == key)).first()
    return None if row is None else (row.id, row.request_hash)


# -- reading state ----------------------------------------------------------------------------


def _lock(conn: Connection, rollout_id: str, *, skip_locked: bool) -> Any:
    return conn.execute(select(ROLLOUT).where(ROLLOUT.c.id == rollout_id)
                        .with_for_update(skip_locked=skip_locked)).first()


def rollout_view(row: Any) -> RolloutView:
    spec = RolloutSpec.model_validate(row.spec)
    return RolloutView(id=row.id, spec=spec, seed=spec.seed or 0,
                       state=RolloutState(row.state), group=row.group_index, groups=row.groups,
                       group_started_at=row.group_started_at,
                       finished=row.finished_at is not None)


def target_views(conn: Connection, rollout_id: str) -> list[TargetView]:
    upd, rb = CMD.alias("upd"), CMD.alias("rb")
    uj, rj = JOB.alias("uj"), JOB.alias("rj")
    rows = conn.execute(
        select(TARGET, upd.c.status.label("u_status"), upd.c.expires_at.label("u_expires"),
               uj.c.state.label("uj_state"), uj.c.error.label("uj_error"),
               rb.c.status.label("r_status"), rb.c.expires_at.label("r_expires"),
               rj.c.state.label("rj_state"), rj.c.error.label("rj_error"))
        .select_from(
            TARGET.outerjoin(upd, upd.c.id == TARGET.c.command_id)
            .outerjoin(uj, and_(uj.c.job_id == TARGET.c.command_id,
                                uj.c.device_id == TARGET.c.device_id))
            .outerjoin(rb, rb.c.id == TARGET.c.rollback_command_id)
            .outerjoin(rj, and_(rj.c.job_id == TARGET.c.rollback_command_id,
                                rj.c.device_id == TARGET.c.device_id))
        )
        .where(TARGET.c.rollout_id == rollout_id)
    ).all()
    return [
        TargetView(
            device_id=r.device_id, group=r.group_index, position=r.position,
            state=TargetState(r.state), previous_version=r.previous_version,
            not_before=r.not_before, attempt=r.attempt, command_id=r.command_id,
            command=CommandView(r.u_status, r.u_expires) if r.u_status is not None else None,
            job=JobView(r.uj_state, r.uj_error or "") if r.uj_state is not None else None,
            rollback_command=(CommandView(r.r_status, r.r_expires)
                              if r.r_status is not None else None),
            rollback_job=(JobView(r.rj_state, r.rj_error or "")
                          if r.rj_state is not None else None),
            cancel_sent=r.cancel_command_id is not None,
        )
        for r in rows
    ]


# -- writing a step ---------------------------------------------------------------------------

_TARGET_COLUMNS = {"state", "not_before", "attempt", "command_id", "error"}


def _apply(conn: Connection, rollout_id: str, result: Step, now: datetime) -> list[CommandRecord]:
    if not result.changed:
        return []
    records: list[CommandRecord] = []
    slots: dict[str, dict[str, str]] = {}
    for send in result.sends:
        record = CommandRecord(
            id=new_command_id(), device_id=send.device_id, name=send.name, args=send.args,
            status=CommandState.PENDING.value, idempotency_key=send.key,
            request_hash=f"{send.name}:{rollout_id}", issued_at=now,
            expires_at=now + timedelta(seconds=send.ttl_s),
        )
        existing = conn.execute(select(CMD.c.id).where(
            CMD.c.device_id == send.device_id, CMD.c.idempotency_key == send.key)).first()
        if existing is not None:
            # Never a second command for the same key (a terminal is never updated twice).
            record_id = existing.id
        else:
            conn.execute(insert(CMD).values(**record.model_dump()))
            records.append(record)
            record_id = record.id
        column = {"command": "command_id", "rollback": "rollback_command_id",
                  "cancel": "cancel_command_id"}[send.slot]
        slots.setdefault(send.device_id, {})[column] = record_id
    devices = set(result.targets) | set(slots)
    for device_id in devices:
        values = {k: (v.value if isinstance(v, TargetState) else v)
                  for k, v in result.targets.get(device_id, {}).items() if k in _TARGET_COLUMNS}
        if result.targets.get(device_id, {}).get("cancel_sent") is False:
            values["cancel_command_id"] = None  # a retry may be cancelled again
        values.update(slots.get(device_id, {}))
        if not values:
            continue
        values["updated_at"] = now
        conn.execute(update(TARGET).where(TARGET.c.rollout_id == rollout_id,
                                          TARGET.c.device_id == device_id).values(values))
    changes = {k: (v.value if isinstance(v, RolloutState) else v)
               for k, v in result.rollout.items()}
    changes.update(updated_at=now, revision=ROLLOUT.c.revision + 1)
    conn.execute(update(ROLLOUT).where(ROLLOUT.c.id == rollout_id).values(changes))
    if "state" in result.rollout:
        log.info("rollout %s: %s%s", rollout_id, changes["state"],
                 f" ({changes['reason']})" if changes.get("reason") else "")
    return records


def tick(db: Database, rollout_id: str, now: datetime) -> list[CommandRecord] | None:
    """One step of a rollout; returns the new commands to publish, None if another manager
    holds the rollout right now."""
    with db.write.begin() as conn:
        row = _lock(conn, rollout_id, skip_locked=True)
        if row is None:
            return None
        view = rollout_view(row)
        if view.finished:
            return []
        result = machine.step(view, target_views(conn, rollout_id), now)
        return _apply(conn, rollout_id, result, now)


def act(db: Database, rollout_id: str, action: str, now: datetime) -> list[CommandRecord]:
    """pause, resume, abort or retry; raises NotFound, machine.Refused. The step that follows
    (sends, rollbacks) is taken at once, in the same transaction."""
    with db.write.begin() as conn:
        row = _lock(conn, rollout_id, skip_locked=False)
        if row is None:
            raise NotFound(rollout_id)
        view = rollout_view(row)
        targets = target_views(conn, rollout_id)
        if action == "pause":
            result = machine.pause(view)
        elif action == "resume":
            result = machine.resume(view, targets)
        elif action == "abort":
            result = machine.abort(view)
        elif action == "retry":
            result = machine.retry_failed(view, targets, now)
        else:
            raise ValueError(action)
        log.info("rollout %s: %s by an operator", rollout_id, action)
        return _apply(conn, rollout_id, result, now)


def active_ids(db: Database) -> list[str]:
    with db.read.connect() as conn:
        return list(conn.execute(
            select(ROLLOUT.c.id).where(ROLLOUT.c.finished_at.is_(None),
                                       ROLLOUT.c.state.in_(ACTIVE_STATES))
            .order_by(ROLLOUT.c.created_at)).scalars())


def unpublished(db: Database, now: datetime, older_than_s: float) -> list[CommandRecord]:
    """Rollout commands stored but never acknowledged by the broker (the manager died between
    its commit and the publish, or the broker was away), still within their TTL."""
    with db.read.connect() as conn:
        rows = conn.execute(
            select(CMD).where(CMD.c.status == CommandState.PENDING.value,
                              CMD.c.idempotency_key.like(f"{KEY_PREFIX}%"),
                              CMD.c.issued_at < now - timedelta(seconds=older_than_s),
                              CMD.c.expires_at > now)
            .order_by(CMD.c.issued_at).limit(5000)
        ).mappings().all()
    return [CommandRecord(**dict(r)) for r in rows]


# -- views ------------------------------------------------------------------------------------


def get(db: Database, rollout_id: str) -> dict[str, Any]:
    with db.read.connect() as conn:
        row = conn.execute(select(ROLLOUT).where(ROLLOUT.c.id == rollout_id)).first()
        if row is None:
            raise NotFound(rollout_id)
        counts = conn.execute(
            select(TARGET.c.group_index, TARGET.c.state, TARGET.c.device_id)
            .where(TARGET.c.rollout_id == rollout_id)
        ).all()
    return summary(row, counts)


def summary(row: Any, targets: list[Any]) -> dict[str, Any]:
    per_group: dict[int, Counter[str]] = {}
    for t in targets:
        per_group.setdefault(t.group_index, Counter())[t.state] += 1
    totals: Counter[str] = Counter()
    for c in per_group.values():
        totals.update(c)
    done = sum(totals[s.value] for s in machine.DECIDED)
    return {
        "id": row.id, "name": row.name, "spec": row.spec, "state": row.state,
        "reason": row.reason, "group": row.group_index + 1, "groups": row.groups,
        "total": row.total, "done": done, "counts": dict(totals),
        "per_group": [dict(per_group.get(g, Counter())) for g in range(row.groups)],
        "created_at": row.created_at, "updated_at": row.updated_at,
        "finished_at": row.finished_at, "revision": row.revision,
    }


def revision(db: Database, rollout_id: str) -> tuple[int, bool] | None:
    with db.read.connect() as conn:
        row = conn.execute(select(ROLLOUT.c.revision, ROLLOUT.c.finished_at)
                           .where(ROLLOUT.c.id == rollout_id)).first()
    return None if row is None else (row.revision, row.finished_at is not None)


def list_rollouts(db: Database, *, state: str | None, limit: int) -> list[dict[str, Any]]:
    with db.read.connect() as conn:
        stmt = select(ROLLOUT).order_by(ROLLOUT.c.created_at.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(ROLLOUT.c.state == state)
        rows = conn.execute(stmt).all()
        ids = [r.id for r in rows]
        targets = conn.execute(
            select(TARGET.c.rollout_id, TARGET.c.group_index, TARGET.c.state)
            .where(TARGET.c.rollout_id.in_(ids))).all() if ids else []
    by_rollout: dict[str, list[Any]] = {}
    for t in targets:
        by_rollout.setdefault(t.rollout_id, []).append(t)
    return [summary(r, by_rollout.get(r.id, [])) for r in rows]


def targets(db: Database, rollout_id: str, *, state: str | None, after: str | None,
            limit: int) -> list[dict[str, Any]]:
    with db.read.connect() as conn:
        if conn.execute(select(ROLLOUT.c.id).where(ROLLOUT.c.id == rollout_id)).first() is None:
            raise NotFound(rollout_id)
        stmt = (select(TARGET).where(TARGET.c.rollout_id == rollout_id)
                .order_by(TARGET.c.device_id).limit(limit))
        if state is not None:
            stmt = stmt.where(TARGET.c.state == state)
        if after is not None:
            stmt = stmt.where(TARGET.c.device_id > after)
        return [dict(r) for r in conn.execute(stmt).mappings().all()]
