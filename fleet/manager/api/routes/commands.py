"""Issuing commands to a device, and reading them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from common.problem import Problem
from fleet.manager.api.deps import IDEMPOTENCY_KEY, DeviceIdPath, ManagerDep, RegistryDep
from fleet.manager.api.schemas import CommandOut, CommandRequest

router = APIRouter(tags=["commands"])


@router.post(
    "/devices/{device_id}/commands",
    status_code=202,
    responses={202: {"description": "stored and sent (or to be sent after the next birth)"}},
)
def issue_command(
    device_id: DeviceIdPath,
    body: CommandRequest,
    response: Response,
    manager: ManagerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1-128 of A-Z a-z 0-9 - _ . : ; the same key returns the same command",
        ),
    ] = None,
) -> CommandOut:
    if idempotency_key is None or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise Problem(400, "idempotency-key-required",
                      "An Idempotency-Key header (1-128 of A-Z a-z 0-9 - _ . :) is required")
    record, replayed = manager.commands.issue(
        device_id, body.name, body.args, body.ttl_s, idempotency_key
    )
    response.headers["Location"] = f"/api/v1/commands/{record.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CommandOut.of(record)


@router.get("/commands/{command_id}")
def get_command(command_id: Annotated[str, Path(max_length=64)],
                registry: RegistryDep) -> CommandOut:
    record = registry.get_command(command_id)
    if record is None:
        raise Problem(404, "command-not-found", "No such command")
    return CommandOut.of(record)
