"""Desired and reported configuration (`fleet_device_config`).

- Desired: each change is a new revision, higher than any the terminal reported (so a terminal
  that ran a revision from elsewhere still takes the next one), carried by one `set-config`
  command stored in the same transaction; older set-config commands not yet answered are
  superseded (never sent again).
- Reported: every birth says what the terminal runs (a birth without `config`, an older agent,
  clears it); a set-config result says so too, kept unless a newer revision is already known.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, or_, select, update
from sqlmodel import Session

from fleet.manager.models import (
    DELIVERABLE_STATES,
    CommandRecord,
    CommandState,
    DeviceConfig,
)
from fleet.manager.registry._sql import CMD, CONFIG, DEV, upsert_insert
from fleet.protocol import Birth, CommandResult
from fleet.protocol.limits import MAX_INTERVAL_S, MIN_INTERVAL_S
from fleet.protocol.messages import KnownCommand, ReportedConfig, new_command_id

log = logging.getLogger(__name__)

SET_CONFIG = KnownCommand.SET_CONFIG.value


def _reported_json(config: ReportedConfig) -> dict[str, Any]:
    return {k: v for k, v in config.values.items() if v is not None}


def _ensure_row(conn: Connection, device_id: str) -> None:
    ins = upsert_insert(conn)(CONFIG)
    conn.execute(ins.on_conflict_do_nothing(index_elements=[CONFIG.c.device_id]),
                 {"device_id": device_id, "revision": 0, "desired": {}})


def record_birth(conn: Connection, birth: Birth, now: datetime) -> None:
    """What the terminal runs, from an accepted birth (the newest session's word)."""
    if birth.config is None:
        conn.execute(update(CONFIG).where(CONFIG.c.device_id == birth.device_id)
                     .values(reported_revision=None, reported=None, reported_at=now))
        return
    reported = {"reported_revision": birth.config.revision,
                "reported": _reported_json(birth.config), "reported_at": now}
    ins = upsert_insert(conn)(CONFIG)
    conn.execute(  # one statement: births come in bursts (a hall's power back)
        ins.on_conflict_do_update(index_elements=[CONFIG.c.device_id], set_=reported),
        {"device_id": birth.device_id, "revision": 0, "desired": {}, **reported})


def record_result(conn: Connection, res: CommandResult, now: datetime) -> None:
    """A set-config result's `config` (what the terminal runs after it) and its refusals. Only
    for a set-config command of this device; a malformed report is ignored."""
    raw = res.output.get("config")
    if not isinstance(raw, dict):
        return
    name = conn.execute(select(CMD.c.name).where(
        CMD.c.id == res.id, CMD.c.device_id == res.device_id)).scalar()
    if name != SET_CONFIG:
        return
    try:
        config = ReportedConfig.model_validate(raw)
    except ValidationError:
        log.info("set-config result %s of %s: no readable config; ignored", res.id,
                 res.device_id)
        return
    refused = res.output.get("refused")
    refused = {str(k)[:64]: str(v)[:200] for k, v in list(refused.items())[:32]} \
        if isinstance(refused, dict) else {}
    _ensure_row(conn, res.device_id)
    kept = conn.execute(update(CONFIG).where(
        CONFIG.c.device_id == res.device_id,
        or_(CONFIG.c.reported_revision.is_(None),
            CONFIG.c.reported_revision <= config.revision),
    ).values(reported_revision=config.revision, reported=_reported_json(config),
             reported_at=now, refused=refused))
    interval = config.values.get("health_interval_s")
    if kept.rowcount and isinstance(interval, int | float) and not isinstance(interval, bool) \
            and MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        # The interval it runs now (the offline sweep allows three of them), not the one its
        # birth gave; the next birth says the same.
        conn.execute(update(DEV).where(DEV.c.id == res.device_id)
                     .values(health_interval_s=float(interval)))


def set_desired(
    conn: Connection, device_id: str, desired: dict[str, Any], base_revision: int | None,
    now: datetime, ttl_s: int,
) -> tuple[DeviceConfig, CommandRecord] | None:
    """Store a new desired revision and its set-config command; None when `base_revision` is
    given and is not the current revision (another change came first)."""
    # The device's row first, as ingest locks it (then commands, then this table): taken in
    # the same order, two writers wait for each other instead of deadlocking on PostgreSQL.
    conn.execute(select(DEV.c.id).where(DEV.c.id == device_id).with_for_update())
    _ensure_row(conn, device_id)
    row = conn.execute(select(CONFIG).where(CONFIG.c.device_id == device_id)
                       .with_for_update()).one()
    if base_revision is not None and base_revision != row.revision:
        return None
    revision = max(row.revision, row.reported_revision or 0) + 1
    conn.execute(update(CMD).where(
        CMD.c.device_id == device_id, CMD.c.name == SET_CONFIG,
        CMD.c.status.in_(DELIVERABLE_STATES),
    ).values(status=CommandState.SUPERSEDED.value))
    command = set_config_command(device_id, revision, desired, now, ttl_s,
                                 key=f"{SET_CONFIG}-{revision}")
    conn.execute(insert(CMD).values(**command.model_dump()))
    conn.execute(update(CONFIG).where(CONFIG.c.device_id == device_id).values(
        revision=revision, desired=desired, desired_at=now, command_id=command.id,
        refused=None))
    stored = conn.execute(select(CONFIG).where(CONFIG.c.device_id == device_id)).one()
    return DeviceConfig.model_validate(stored._asdict()), command


def set_config_command(
    device_id: str, revision: int, desired: dict[str, Any], now: datetime, ttl_s: int, key: str
) -> CommandRecord:
    from fleet.manager.commands import request_fingerprint  # the command module imports us

    args = {"revision": revision, "values": desired}
    return CommandRecord(
        id=new_command_id(), device_id=device_id, name=SET_CONFIG, args=args,
        status=CommandState.PENDING.value, idempotency_key=key,
        request_hash=request_fingerprint(SET_CONFIG, args, ttl_s),
        issued_at=now, expires_at=now + timedelta(seconds=ttl_s),
    )


def behind(session: Session, device_ids: list[str], now: datetime) -> list[DeviceConfig]:
    """Configs whose terminal reports an older revision than desired and that no set-config
    command still on its way carries (it expired, or the terminal lost its state)."""
    rows = session.scalars(select(DeviceConfig).where(
        DeviceConfig.device_id.in_(device_ids),  # type: ignore[attr-defined]
        DeviceConfig.revision > 0,  # type: ignore[arg-type]
        DeviceConfig.reported_revision.is_not(None),  # type: ignore[union-attr]
        DeviceConfig.reported_revision < DeviceConfig.revision,  # type: ignore[operator]
    )).all()
    out: list[DeviceConfig] = []
    for row in rows:
        pending = session.scalars(select(CommandRecord).where(
            CommandRecord.device_id == row.device_id,  # type: ignore[arg-type]
            CommandRecord.name == SET_CONFIG,  # type: ignore[arg-type]
            CommandRecord.status.in_(DELIVERABLE_STATES),  # type: ignore[attr-defined]
            CommandRecord.expires_at > now,  # type: ignore[arg-type, operator]
        )).all()
        if not any(c.args.get("revision") == row.revision for c in pending):
            out.append(row)
    return out


def get_config(session: Session, device_id: str) -> DeviceConfig | None:
    return session.get(DeviceConfig, device_id)
