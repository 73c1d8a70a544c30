"""Rollouts: create, list, watch (GET and server-sent events), pause, resume, abort, retry.
Thin: the work is in fleet/manager/rollouts (store and state machine)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from common.clock import utc_now
from common.problem import Problem
from fleet.manager.api.deps import IDEMPOTENCY_KEY, ManagerDep
from fleet.manager.rollouts import machine, store
from fleet.manager.rollouts.spec import RolloutSpec
from fleet.manager.service import FleetManager

router = APIRouter(prefix="/rollouts", tags=["rollouts"])

RolloutId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
#: How long one event stream lasts; clients reconnect (EventSource does by itself).
STREAM_MAX_S = 600.0
STREAM_POLL_S = 0.5


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _get(manager: FleetManager, rollout_id: str) -> dict[str, Any]:
    try:
        return store.get(manager.db, rollout_id)
    except store.NotFound:
        raise Problem(404, "rollout-not-found", "No such rollout") from None


@router.post("", status_code=201)
def create_rollout(
    body: RolloutSpec,
    response: Response,
    manager: ManagerDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    if idempotency_key is None or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise Problem(400, "idempotency-key-required",
                      "An Idempotency-Key header (1-128 of A-Z a-z 0-9 - _ . :) is required")
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    try:
        rollout_id, replayed = store.create(manager.db, body, idempotency_key, fingerprint,
                                            utc_now())
    except store.NoTargets as exc:
        raise Problem(422, "no-targets", "The filter selects no terminal to update",
                      detail=str(exc)) from None
    except store.KeyReused:
        raise Problem(422, "idempotency-key-reused",
                      "This Idempotency-Key was used for a different rollout") from None
    manager.rollouts.poke()
    response.headers["Location"] = f"/api/v1/rollouts/{rollout_id}"
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _get(manager, rollout_id)


@router.get("")
def list_rollouts(
    manager: ManagerDep,
    state: Literal["running", "paused", "aborted", "succeeded"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    return store.list_rollouts(manager.db, state=state, limit=limit)


@router.get("/{rollout_id}")
def get_rollout(rollout_id: RolloutId, manager: ManagerDep) -> dict[str, Any]:
    """State, reason, current group, and counts of terminals per state (overall and per group)."""
    return _get(manager, rollout_id)


@router.get("/{rollout_id}/targets")
def list_targets(
    rollout_id: RolloutId,
    manager: ManagerDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    try:
        return store.targets(manager.db, rollout_id, state=state, after=after, limit=limit)
    except store.NotFound:
        raise Problem(404, "rollout-not-found", "No such rollout") from None


@router.get("/{rollout_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def rollout_events(rollout_id: RolloutId, request: Request,
                         manager: ManagerDep) -> StreamingResponse:
    """Server-sent events: the rollout (as GET) each time it changes; ends when it finishes or
    after STREAM_MAX_S (reconnect to go on)."""
    first = await run_in_threadpool(_get, manager, rollout_id)

    async def events() -> AsyncIterator[bytes]:
        current = first
        loop = asyncio.get_running_loop()
        end = loop.time() + STREAM_MAX_S
        while True:
            data = json.dumps(current, default=_json_default, separators=(",", ":"))
            yield f"id: {current['revision']}\nevent: rollout\ndata: {data}\n\n".encode()
            if current["finished_at"] is not None:
                return
            while True:
                if loop.time() > end or await request.is_disconnected():
                    return
                await asyncio.sleep(STREAM_POLL_S)
                seen = await run_in_threadpool(store.revision, manager.db, rollout_id)
                if seen is None:
                    return
                if seen[0] != current["revision"]:
                    break
            current = await run_in_threadpool(_get, manager, rollout_id)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _act(manager: FleetManager, rollout_id: str, action: str) -> dict[str, Any]:
    try:
        records = store.act(manager.db, rollout_id, action, utc_now())
    except store.NotFound:
        raise Problem(404, "rollout-not-found", "No such rollout") from None
    except machine.Refused as exc:
        raise Problem(409, "rollout-state", "Not possible in the rollout's state",
                      detail=str(exc)) from None
    if records:
        manager.commands.publish_stored(records)
    manager.rollouts.poke()
    return _get(manager, rollout_id)


@router.post("/{rollout_id}/pause")
def pause_rollout(rollout_id: RolloutId, manager: ManagerDep) -> dict[str, Any]:
    return _act(manager, rollout_id, "pause")


@router.post("/{rollout_id}/resume")
def resume_rollout(rollout_id: RolloutId, manager: ManagerDep) -> dict[str, Any]:
    return _act(manager, rollout_id, "resume")


@router.post("/{rollout_id}/abort")
def abort_rollout(rollout_id: RolloutId, manager: ManagerDep) -> dict[str, Any]:
    """Nothing new starts; terminals that took the release get `rollback`."""
    return _act(manager, rollout_id, "abort")


@router.post("/{rollout_id}/retry")
def retry_rollout(rollout_id: RolloutId, manager: ManagerDep) -> dict[str, Any]:
    """Failed and expired terminals of the groups started so far get the update again."""
    return _act(manager, rollout_id, "retry")
