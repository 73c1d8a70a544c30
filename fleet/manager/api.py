"""REST for operators, dashboards and the CLI: `/api/v1`, JSON, RFC 9457 problem+json errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from common.problem import Problem
from fleet import package_version
from fleet.manager.models import NO_PRESENCE_SEQ, CommandRecord, Device, PresenceEvent
from fleet.protocol import DEVICE_ID_PATTERN, PresenceKind
from fleet.protocol.messages import CommandName
from webapi.problems import install_problem_handlers

if TYPE_CHECKING:
    from fleet.manager.service import FleetManager

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
DeviceIdPath = Annotated[str, Path(pattern=DEVICE_ID_PATTERN)]


class PresenceOut(BaseModel):
    session_seq: int | None = Field(description="session_seq of the last accepted event")
    last_event: Literal["birth", "death"] | None
    reason: str | None = Field(description="why offline: will, shutdown or timeout")
    changed_at: datetime | None


class DeviceOut(BaseModel):
    id: str
    site: str | None
    online: bool
    presence: PresenceOut
    first_seen: datetime
    last_seen: datetime
    app_version: str | None
    agent_version: str | None
    hostname: str | None
    health_interval_s: float | None
    health: dict[str, Any] | None = Field(description="the newest hrss.health/1 body")

    @classmethod
    def of(cls, d: Device) -> DeviceOut:
        known = d.presence_seq != NO_PRESENCE_SEQ
        return cls(
            id=d.id,
            site=d.site,
            online=d.online,
            presence=PresenceOut(
                session_seq=d.presence_seq if known else None,
                last_event=(
                    ("birth" if d.presence_kind == PresenceKind.BIRTH else "death")
                    if known else None
                ),
                reason=d.presence_reason,
                changed_at=d.presence_at,
            ),
            first_seen=d.first_seen,
            last_seen=d.last_seen,
            app_version=d.app_version,
            agent_version=d.agent_version,
            hostname=d.hostname,
            health_interval_s=d.health_interval_s,
            health=d.health,
        )


class DeviceList(BaseModel):
    items: list[DeviceOut]
    next_after: str | None = Field(description="pass as `after` for the next page")


class PresenceEventOut(BaseModel):
    kind: str
    session_seq: int | None
    reason: str | None
    sent_at: datetime | None
    recorded_at: datetime

    @classmethod
    def of(cls, e: PresenceEvent) -> PresenceEventOut:
        return cls(kind=e.kind, session_seq=e.session_seq, reason=e.reason, sent_at=e.sent_at,
                   recorded_at=e.recorded_at)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)
    ttl_s: int | None = Field(None, ge=1, le=7 * 24 * 3600,
                              description="time to live; the manager's default if omitted")


class CommandOut(BaseModel):
    id: str
    device_id: str
    name: str
    args: dict[str, Any]
    status: str = Field(description="pending, sent, timed-out, or the agent's result status")
    issued_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    output: dict[str, Any] | None

    @classmethod
    def of(cls, c: CommandRecord) -> CommandOut:
        return cls(
            id=c.id, device_id=c.device_id, name=c.name, args=c.args, status=c.status,
            issued_at=c.issued_at, expires_at=c.expires_at, sent_at=c.sent_at,
            answered_at=c.answered_at, output=c.output,
        )


def create_app(manager: FleetManager) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(manager.start)
        try:
            yield
        finally:
            await run_in_threadpool(manager.stop)

    app = FastAPI(
        title="HRSS fleet manager",
        version=package_version(),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    registry = manager.registry

    @app.get("/api/v1/health", tags=["service"])
    def health() -> JSONResponse:
        """200 when connected to the broker, subscribed, and the database answers; else 503."""
        status = manager.status()
        if not status["ready"]:
            raise Problem(503, "not-ready", "The fleet manager is not ready",
                          detail="broker or database unavailable", retry_after=5, **status)
        return JSONResponse(status)

    @app.get("/api/v1/devices", tags=["devices"])
    def list_devices(
        site: str | None = None,
        online: bool | None = None,
        after: Annotated[str | None, Query(description="last id of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> DeviceList:
        devices = registry.list_devices(site=site, online=online, after=after, limit=limit)
        return DeviceList(
            items=[DeviceOut.of(d) for d in devices],
            next_after=devices[-1].id if len(devices) == limit else None,
        )

    @app.get("/api/v1/devices/{device_id}", tags=["devices"])
    def get_device(device_id: DeviceIdPath) -> DeviceOut:
        device = registry.get_device(device_id)
        if device is None:
            raise Problem(404, "device-not-found", "No such device")
        return DeviceOut.of(device)

    @app.get("/api/v1/devices/{device_id}/presence-events", tags=["devices"])
    def presence_events(
        device_id: DeviceIdPath, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> list[PresenceEventOut]:
        """Accepted presence changes, newest first."""
        if registry.get_device(device_id) is None:
            raise Problem(404, "device-not-found", "No such device")
        return [PresenceEventOut.of(e) for e in registry.presence_events(device_id, limit)]

    @app.post(
        "/api/v1/devices/{device_id}/commands",
        status_code=202,
        tags=["commands"],
        responses={202: {"description": "stored and sent (or to be sent after the next birth)"}},
    )
    def issue_command(
        device_id: DeviceIdPath,
        body: CommandRequest,
        response: Response,
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

    @app.get("/api/v1/commands/{command_id}", tags=["commands"])
    def get_command(command_id: Annotated[str, Path(max_length=64)]) -> CommandOut:
        record = registry.get_command(command_id)
        if record is None:
            raise Problem(404, "command-not-found", "No such command")
        return CommandOut.of(record)

    return app
