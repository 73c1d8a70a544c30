"""Jobs: the newest `hrss.job/1` message of each job (docs/contracts/fleet-mqtt.md, "Jobs").

`update` rises with every message about a job, so the stored row is replaced only by a higher
one: duplicates, redeliveries and reordering change nothing, and two managers that each got a
different message of one job converge (the write is conditional, in the database). A job is kept
only if a command of the same device started it (its id is that command's id): a terminal can
report on its own jobs, not invent rows or touch another terminal's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select
from sqlmodel import Session, col

from fleet.manager.models import JobRecord
from fleet.manager.registry._sql import CMD, JOB, upsert_insert
from fleet.manager.registry.outcome import BatchOutcome, RejectReason
from fleet.protocol import JobUpdate

log = logging.getLogger(__name__)

#: A job's stored output, as JSON; the payload limit (64 KiB) is for the whole message, and the
#: manager keeps the latest of every job, so a smaller bound keeps the table small.
MAX_JOB_OUTPUT_BYTES = 8 * 1024


def newest_per_job(jobs: Sequence[JobUpdate]) -> dict[tuple[str, str], JobUpdate]:
    latest: dict[tuple[str, str], JobUpdate] = {}
    for j in jobs:
        key = (j.device_id, j.job_id)
        prev = latest.get(key)
        if prev is None or j.update > prev.update:
            latest[key] = j
    return latest


def too_large(job: JobUpdate) -> bool:
    return len(json.dumps(job.output, ensure_ascii=False).encode()) > MAX_JOB_OUTPUT_BYTES


def apply_jobs(
    conn: Connection, jobs: Sequence[JobUpdate], now: datetime, out: BatchOutcome
) -> None:
    accepted: list[JobUpdate] = []
    for j in jobs:
        if too_large(j):
            out.rejected.append((j, RejectReason.TOO_LARGE))
        else:
            accepted.append(j)
    latest = newest_per_job(accepted)
    if not latest:
        return
    started = {
        (r.device_id, r.id)
        for r in conn.execute(
            select(CMD.c.device_id, CMD.c.id).where(CMD.c.id.in_(sorted({k[1] for k in latest})))
        )
    }
    rows = []
    for key, j in sorted(latest.items()):
        if key not in started:
            out.jobs_ignored += 1
            log.debug("ignored job %s of %s: no command of that device started it", j.job_id,
                      j.device_id)
            continue
        rows.append({
            "device_id": j.device_id, "job_id": j.job_id, "name": j.name, "state": j.state.value,
            "update": j.update, "progress": j.progress, "output": j.output, "error": j.error,
            "ts": j.ts, "recorded_at": now,
        })
    if not rows:
        return
    ins = upsert_insert(conn)(JOB)
    stmt = ins.on_conflict_do_update(
        index_elements=[JOB.c.device_id, JOB.c.job_id],
        set_={name: ins.excluded[name] for name in
              ("name", "state", "update", "progress", "output", "error", "ts", "recorded_at")},
        where=ins.excluded["update"] > JOB.c["update"],
    ).returning(JOB.c.job_id)
    # One statement per row: RETURNING says whether it was newer than what is stored (psycopg
    # gives no row count for an upsert).
    for row in rows:
        if conn.execute(stmt, row).first() is not None:
            out.jobs_applied += 1
        else:
            out.jobs_ignored += 1


def get_job(session: Session, device_id: str, job_id: str) -> JobRecord | None:
    return session.get(JobRecord, (device_id, job_id))


def jobs_of(session: Session, device_id: str, limit: int) -> list[JobRecord]:
    stmt = (select(JobRecord).where(col(JobRecord.device_id) == device_id)
            .order_by(col(JobRecord.ts).desc()).limit(limit))
    return list(session.scalars(stmt).all())
