"""The command store: issued commands, delivery, results from agents, timeouts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlmodel import Session, col

from fleet.manager.models import DELIVERABLE_STATES, OPEN_STATES, CommandRecord, CommandState
from fleet.manager.registry._sql import CMD
from fleet.manager.registry.outcome import BatchOutcome
from fleet.protocol import CommandResult

log = logging.getLogger(__name__)


def apply_result(conn: Connection, res: CommandResult, now: datetime, out: BatchOutcome) -> None:
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


def insert_command(conn: Connection, record: CommandRecord) -> None:
    """Raises sqlalchemy.exc.IntegrityError if (device, idempotency key) exists."""
    conn.execute(insert(CMD).values(**record.model_dump()))


def mark_sent(conn: Connection, command_id: str, now: datetime) -> None:
    conn.execute(
        update(CMD)
        .where(CMD.c.id == command_id, CMD.c.status == CommandState.PENDING.value)
        .values(status=CommandState.SENT.value, sent_at=now)
    )


def time_out_commands(conn: Connection, now: datetime) -> int:
    result = conn.execute(
        update(CMD)
        .where(CMD.c.status.in_(DELIVERABLE_STATES), CMD.c.expires_at < now)
        .values(status=CommandState.TIMED_OUT.value)
    )
    return max(result.rowcount, 0)


def get_command(session: Session, command_id: str) -> CommandRecord | None:
    return session.get(CommandRecord, command_id)


def find_command(session: Session, device_id: str, idempotency_key: str) -> CommandRecord | None:
    stmt = select(CommandRecord).where(
        col(CommandRecord.device_id) == device_id,
        col(CommandRecord.idempotency_key) == idempotency_key,
    )
    return session.scalars(stmt).first()


def deliverable_commands(
    session: Session, device_ids: Sequence[str], now: datetime
) -> list[CommandRecord]:
    stmt = (
        select(CommandRecord)
        .where(
            col(CommandRecord.device_id).in_(device_ids),
            col(CommandRecord.status).in_(DELIVERABLE_STATES),
            col(CommandRecord.expires_at) > now,
        )
        .order_by(col(CommandRecord.issued_at))
    )
    return list(session.scalars(stmt).all())
