"""`Idempotency-Key` for every state-changing route, as the table in edge-api.md says.

Claiming a key is an INSERT that the (device, key) primary key lets only one request win, so
two concurrent first uses cannot both run. The answer is stored in the same transaction as
the route's own writes when the route uses `commit` (so a crash cannot leave a session
without its stored answer, or the other way round), else right after. 5xx answers are not
stored, nor is a 429 (the limit lifts): the key is released and a retry runs again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, update

from common.problem import PROBLEM_JSON, Problem
from edge_server.auth import require_device
from edge_server.context import EdgeContext, get_context
from edge_server.crypto import Sealed, SealError
from edge_server.db import run_in_transaction, session_scope
from edge_server.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9\-_.:]{1,128}")
IN_FLIGHT = "in-flight"
DONE = "done"
REPLAYED_HEADER = "Idempotent-Replayed"
# An in-flight claim older than this belongs to a request that died with its process (no
# request lives this long: the central call times out after a few seconds).
ABANDONED_AFTER = dt.timedelta(seconds=30)
_CLAIM_ATTEMPTS = 4

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel | None)


class _ClaimLost(Exception):
    """Our in-flight claim was taken over (we looked abandoned); our writes must not land."""


class Commit(Protocol):
    """Runs a route's final writes in one transaction (retried whole on an insert race)."""

    def __call__(self, work: Callable[[Session], M]) -> M: ...


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


class IdempotentRequest:
    """One state-changing request under its key; `run` does the rest."""

    def __init__(
        self, ctx: EdgeContext, device_id: str, key: str, request_fingerprint: str, path: str
    ) -> None:
        self.ctx = ctx
        self.device_id = device_id
        self.key = key
        self.fingerprint = request_fingerprint
        self.path = path
        self._claimed_at: dt.datetime | None = None
        self._answer: tuple[str | None, bytes] | None = None  # what is stored, once it is
        self._status = 200
        self._aad = f"idempotency:{device_id}:{key}"

    # -- the flow --------------------------------------------------------------------------
    def run(
        self, handler: Callable[[Commit], BaseModel | None], *, status_code: int
    ) -> Response:
        """Claim the key, run `handler(commit)`, store and return its answer; or replay."""
        replay = self._claim()
        if replay is not None:
            return replay
        self._status = status_code
        try:
            return self._run_claimed(handler, status_code)
        except _ClaimLost:
            raise Problem(
                409, "idempotency-key-in-flight", "The Idempotency-Key was taken over",
                retry_after=1,
            ) from None

    def _run_claimed(
        self, handler: Callable[[Commit], BaseModel | None], status_code: int
    ) -> Response:
        try:
            result = handler(self._commit)
        except Problem as problem:
            if self._answer is not None:
                raise  # the writes and their answer are stored; a replay gives that answer
            if not _final(problem.status):
                self._release()
                raise
            # Rendered here, once, so that a replay is byte for byte this answer.
            answer = JSONResponse(
                problem.body(self.path), status_code=problem.status, media_type=PROBLEM_JSON
            )
            self._store_now(problem.status, PROBLEM_JSON, bytes(answer.body))
            return answer
        except _ClaimLost:
            raise
        except BaseException:
            if self._answer is None:
                self._release()
            raise
        if self._answer is None:
            self._store_now(status_code, *_serialise(result))
        assert self._answer is not None
        content_type, body = self._answer
        return Response(body, status_code=status_code, media_type=content_type)

    def _commit(self, work: Callable[[Session], M]) -> M:
        def work_and_store(db: Session) -> M:
            result = work(db)
            content_type, body = _serialise(result)
            self._mark_done(db, self._status, content_type, body)
            answer[:] = [(content_type, body)]
            return result

        answer: list[tuple[str | None, bytes]] = []
        result = run_in_transaction(self.ctx.engine, work_and_store)
        self._answer = answer[0]  # only once committed
        return result

    # -- storage ---------------------------------------------------------------------------
    def _claim(self) -> Response | None:
        ttl = dt.timedelta(seconds=self.ctx.settings.idempotency_ttl_s)
        for _ in range(_CLAIM_ATTEMPTS):
            now = self.ctx.now()
            try:
                with session_scope(self.ctx.engine) as db:
                    db.add(
                        IdempotencyRecord(
                            device_id=self.device_id, key=self.key, fingerprint=self.fingerprint,
                            state=IN_FLIGHT, created_at=now,
                        )
                    )
                self._claimed_at = now
                return None
            except IntegrityError:
                pass  # the key is taken: see by whom
            with session_scope(self.ctx.engine) as db:
                record = db.get(IdempotencyRecord, (self.device_id, self.key))
                if record is None:
                    continue  # released meanwhile (a 5xx): claim again
                if record.created_at <= now - ttl:
                    self._delete_if_unchanged(db, record.created_at)  # expired: a new first use
                    continue
                if record.fingerprint != self.fingerprint:
                    raise Problem(
                        422, "idempotency-key-reused",
                        "This Idempotency-Key was used for a different request",
                    )
                if record.state == DONE:
                    return self._replay(record)
                if record.created_at <= now - ABANDONED_AFTER:
                    if self._take_over(db, record, now):
                        log.warning("took over an abandoned request of device %s", self.device_id)
                        return None
                    continue  # finished or taken over meanwhile: look again
            raise Problem(
                409, "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still being processed", retry_after=1,
            )
        raise Problem(
            409, "idempotency-key-in-flight", "The Idempotency-Key is contended", retry_after=1
        )

    def _take_over(self, db: Session, record: IdempotencyRecord, now: dt.datetime) -> bool:
        result = db.exec(
            update(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.device_id) == self.device_id,
                col(IdempotencyRecord.key) == self.key,
                col(IdempotencyRecord.state) == IN_FLIGHT,
                col(IdempotencyRecord.created_at) == record.created_at,
            )
            .values(created_at=now)
        )
        if result.rowcount == 1:
            self._claimed_at = now
            return True
        return False

    def _delete_if_unchanged(self, db: Session, created_at: dt.datetime) -> None:
        db.exec(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.device_id) == self.device_id,
                col(IdempotencyRecord.key) == self.key,
                col(IdempotencyRecord.created_at) == created_at,
            )
        )

    def _release(self) -> None:
        """Forget our claim (only ours: a take-over changed created_at)."""
        if self._claimed_at is None:
            return
        try:
            with session_scope(self.ctx.engine) as db:
                db.exec(
                    delete(IdempotencyRecord).where(
                        col(IdempotencyRecord.device_id) == self.device_id,
                        col(IdempotencyRecord.key) == self.key,
                        col(IdempotencyRecord.state) == IN_FLIGHT,
                        col(IdempotencyRecord.created_at) == self._claimed_at,
                    )
                )
        except Exception:
            # The claim then expires as abandoned; the original error matters more.
            log.exception("could not release an idempotency claim of device %s", self.device_id)

    def _mark_done(self, db: Session, status: int, content_type: str | None, body: bytes) -> None:
        sealed = self.ctx.cipher.seal(body, self._aad)
        result = db.exec(
            update(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.device_id) == self.device_id,
                col(IdempotencyRecord.key) == self.key,
                col(IdempotencyRecord.created_at) == self._claimed_at,
            )
            .values(
                state=DONE, status_code=status, content_type=content_type,
                key_id=sealed.key_id, nonce=sealed.nonce, body=sealed.ciphertext,
            )
        )
        if result.rowcount != 1:
            # Someone took our claim over as abandoned: keep our writes out of the database.
            raise _ClaimLost

    def _store_now(self, status: int, content_type: str | None, body: bytes) -> None:
        with session_scope(self.ctx.engine) as db:
            self._mark_done(db, status, content_type, body)
        self._answer = (content_type, body)

    def _replay(self, record: IdempotencyRecord) -> Response:
        assert record.status_code is not None and record.nonce is not None
        try:
            body = self.ctx.cipher.open(
                Sealed(record.key_id or "", record.nonce, record.body or b""), self._aad
            )
        except SealError as exc:
            log.error("a stored idempotent answer does not open: %s", exc)
            raise Problem(500, "internal-error", "Internal error") from None
        response = Response(body, status_code=record.status_code, media_type=record.content_type)
        response.headers[REPLAYED_HEADER] = "true"
        return response


def release_claims_of_a_dead_server(engine: Engine) -> int:
    """Release every in-flight claim: called as the edge server starts on SQLite.

    On SQLite one server process owns the database file (the CLI's commands open it too, but
    never claim keys), so an in-flight claim at start-up was left by a request that died with
    the previous process, a power cut most often. Released now, the kiosk's retry with the same
    key runs at once instead of waiting ABANDONED_AFTER; the claim's work was never committed
    (the work and its stored answer share one transaction), so running it again doubles nothing.
    """
    with session_scope(engine) as db:
        released = db.exec(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.state) == IN_FLIGHT)
        ).rowcount
    if released:
        log.warning("released %d idempotency claims left by a stopped edge process", released)
    return int(released or 0)


def _final(status: int) -> bool:
    """Whether an answer is stored for replay: not a server fault, not "too many requests"."""
    return status < 500 and status != 429


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def _serialise(result: BaseModel | None) -> tuple[str | None, bytes]:
    if result is None:
        return None, b""
    return "application/json", result.model_dump_json().encode()


async def idempotent_request(
    request: Request,
    ctx: Annotated[EdgeContext, Depends(get_context)],
    device_id: Annotated[str, Depends(require_device)],
    idempotency_key: Annotated[
        str | None, Header(description="1-128 of A-Z a-z 0-9 - _ . : (one per logical action)")
    ] = None,
) -> IdempotentRequest:
    """FastAPI dependency (after the device check): the key and the request's fingerprint.

    Async because it reads the raw body, which Starlette caches for the route's own parsing.
    """
    if idempotency_key is None or not KEY_PATTERN.fullmatch(idempotency_key):
        raise Problem(
            400, "idempotency-key-required",
            "An Idempotency-Key header of 1-128 characters A-Z a-z 0-9 - _ . : is required",
        )
    body = await request.body()
    if body and not _is_json(request.headers.get("content-type")):
        raise Problem(415, "unsupported-media-type", "The body must be application/json")
    return IdempotentRequest(
        ctx, device_id, idempotency_key,
        fingerprint(request.method, request.url.path, body), request.url.path,
    )
