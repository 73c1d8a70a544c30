"""Synchronous client of the edge API (docs/contracts/edge-api.md), called from worker threads.

- Every call carries the device's bearer token.
- Every state-changing call carries an Idempotency-Key: one UUID per logical action, which the
  caller passes in and which is reused on every retry of that action (here and in the flow).
- Errors come out typed: `EdgeUnreachable` (no answer, retry is safe) or `EdgeProblem(code,
  status)` parsed from RFC 9457 problem+json.
- Nothing logged here holds citizen data: paths are logged as templates, bodies never.
"""

from __future__ import annotations

import email.utils
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from drivers.card.interface import CardData
from kiosk.edge_errors import (
    IDEMPOTENCY_KEY_IN_FLIGHT,
    INVALID_RESPONSE,
    EdgeProblem,
    EdgeUnreachable,
)
from kiosk.edge_models import Benefits, EdgeHealth, SessionOpened
from kiosk.version import __version__

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO, and session URLs carry the session id (which,
# with the device token, opens the citizen's data): keep those loggers quiet.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
# A proxy or load balancer in front of the edge answers these when the edge itself is gone.
_GATEWAY_STATUSES = frozenset({502, 503, 504})

M = TypeVar("M", bound=BaseModel)


def new_idempotency_key() -> str:
    """One per logical action (open this card's session, end this session)."""
    return str(uuid.uuid4())


def _backoff_s(attempt: int) -> float:
    """Short pauses between the client's own quick retries (the flow retries for longer)."""
    return min(0.25 * 2 ** (attempt - 1), 2.0)


class EdgeClient:
    """One per process; thread-safe (httpx.Client pools connections across threads)."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        device_token: str,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        attempts: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={
                "Authorization": f"Bearer {device_token}",
                "Accept": f"application/json, {PROBLEM_JSON}",
                "User-Agent": f"hrss-kiosk/{__version__} ({device_id})",
            },
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # The API -------------------------------------------------------------------------------

    def health(self) -> EdgeHealth:
        return self._call("GET", "/health", EdgeHealth, label="/health")

    def open_session(self, card: CardData, *, idempotency_key: str) -> SessionOpened:
        """POST /sessions: identify the cardholder; 201 with the masked display name."""
        body = {
            "method": "card",
            "card": {
                "citizen_id": card.citizen_id,
                "name": card.name,
                "card_number": card.card_number,
                "card_id_code": card.card_id_code,
                "spec_version": card.spec_version,
            },
        }
        return self._call(
            "POST", "/sessions", SessionOpened, json=body, key=idempotency_key, label="/sessions"
        )

    def get_session(self, session_id: str) -> SessionOpened:
        return self._call(
            "GET", f"/sessions/{session_id}", SessionOpened, label="/sessions/{id}"
        )

    def get_benefits(self, session_id: str) -> Benefits:
        return self._call(
            "GET", f"/sessions/{session_id}/benefits", Benefits, label="/sessions/{id}/benefits"
        )

    def end_session(self, session_id: str, *, idempotency_key: str) -> None:
        """DELETE /sessions/{id}: 204, also when it had already ended."""
        self._call(
            "DELETE", f"/sessions/{session_id}", None, key=idempotency_key,
            label="/sessions/{id}",
        )

    # Plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[M] | None,
        *,
        json: Any = None,
        key: str | None = None,
        label: str,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, model, json, headers, label)
            except (EdgeUnreachable, EdgeProblem) as exc:
                retryable = isinstance(exc, EdgeUnreachable) or (
                    exc.code == IDEMPOTENCY_KEY_IN_FLIGHT
                )
                if not retryable or attempt >= self._attempts:
                    raise
                log.info("edge %s %s: %s; retrying (attempt %d)", method, label, exc, attempt + 1)
                self._sleep(_backoff_s(attempt))

    def _once(
        self,
        method: str,
        path: str,
        model: type[M] | None,
        json: Any,
        headers: dict[str, str] | None,
        label: str,
    ) -> Any:
        started = time.monotonic()
        try:
            response = self._http.request(method, path, json=json, headers=headers)
        except httpx.TransportError as exc:  # connect, timeouts, resets, protocol errors
            raise EdgeUnreachable(f"{type(exc).__name__} on {method} {label}") from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("edge %s %s -> %d in %.0f ms", method, label, response.status_code, elapsed_ms)
        if response.is_success:
            if model is None:
                return None
            try:
                return model.model_validate_json(response.content)
            except ValidationError as exc:
                # Field locations only: pydantic's own text quotes the values (citizen data),
                # so it is neither kept as the cause nor shown in a traceback.
                fields = ", ".join(
                    ".".join(str(part) for part in error["loc"]) or "body"
                    for error in exc.errors()[:5]
                )
                raise EdgeProblem(
                    INVALID_RESPONSE, response.status_code,
                    title=f"unexpected answer body for {method} {label} ({fields})",
                ) from None
        raise _problem_from(response, f"{method} {label}")


def _problem_from(response: httpx.Response, what: str) -> EdgeUnreachable | EdgeProblem:
    status = response.status_code
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    body: Any = None
    if content_type in (PROBLEM_JSON, "application/json"):
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        if status in _GATEWAY_STATUSES:
            return EdgeUnreachable(f"{status} from a gateway on {what}")
        return EdgeProblem(INVALID_RESPONSE, status, title=f"non-problem error answer on {what}")
    known = {"type", "title", "status", "code", "detail", "instance"}
    return EdgeProblem(
        code=body["code"],
        status=status,
        title=str(body.get("title", "")),
        detail=str(body.get("detail", "")),
        retry_after_s=_retry_after(response.headers.get("retry-after")),
        extra={k: v for k, v in body.items() if k not in known},
    )


def _retry_after(value: str | None) -> float | None:
    """Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
