"""The one caller of the central benefit platform (docs/contracts/central-api.md).

Each call has a total deadline (`deadline_s`, however many reads it takes), a bounded answer
(`max_answer_bytes`, streamed and stopped at the cap) and a bounded number of calls in flight,
so a slow or hostile platform can hold neither a request nor the edge's worker threads for
long. Everything that can go wrong on the way (refused connection, deadline, 503 maintenance,
any other server error, a rejected API key, an answer that is not the contract's) becomes
`CentralUnavailable`; a bad answer is a `BadAnswer`, counted and logged without personal data.
Only the contract's `404 person-not-found` is `CentralNotFound`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from common.clock import Clock, Deadline, Monotonic, monotonic, utc_now
from common.http import deadline_transport, within
from common.problem import PROBLEM_JSON, parse_problem
from edge_server.central import validation
from edge_server.central.errors import (
    BadAnswer,
    CentralNotFound,
    CentralUnavailable,
    StaffRefused,
    TokenExpired,
    TokenInvalid,
    TokenOtherTerminal,
    TokenUsed,
)
from edge_server.central.reachability import ReachabilityTracker
from edge_server.central.reading import media_type, read_body
from edge_server.central.wire import PaymentsAnswer, PersonAnswer, TokenAnswer
from edge_server.settings import EdgeSettings

A = TypeVar("A", bound=BaseModel)
log = logging.getLogger(__name__)

PERSONS = "/central/v1/persons/query"
PAYMENTS = "/central/v1/pension-payments/query"
TOKENS = "/central/v1/ecard-tokens/verify"
HEALTH = "/central/v1/health"
PIN_AUTHORISATIONS = "/central/v1/cards/pin-authorisations"
# (status, code) -> what it means; the token codes only on the token call, the staff
# refusal only on the key centre's.
_CONTRACT_REFUSALS: dict[tuple[int, str], type[Exception]] = {
    (404, "person-not-found"): CentralNotFound,
    (410, "token-expired"): TokenExpired,
    (422, "token-invalid"): TokenInvalid,
    (409, "token-used"): TokenUsed,
    (403, "token-other-terminal"): TokenOtherTerminal,
    (403, "staff-refused"): StaffRefused,
}
_REFUSAL_PATHS: dict[type[Exception], str] = {
    TokenExpired: TOKENS, TokenInvalid: TOKENS, TokenUsed: TOKENS, TokenOtherTerminal: TOKENS,
    StaffRefused: PIN_AUTHORISATIONS,
}
MAX_PROBLEM_BYTES = 16 * 1024  # an error body is read only for its code
_JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class CentralLimits:
    """`timeout_s` bounds each connect or read, `deadline_s` the whole call."""

    timeout_s: float = 3.0
    deadline_s: float = 5.0
    max_answer_bytes: int = 1024 * 1024
    max_in_flight: int = 16


@dataclass(frozen=True)
class _Exchange:
    status: int
    media_type: str
    body: bytes


class CentralClient:
    """Thread-safe: route handlers in worker threads share one connection pool."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        limits: CentralLimits = CentralLimits(),
        *,
        http: httpx.Client | None = None,
        clock: Clock = utc_now,
        monotonic_clock: Monotonic = monotonic,
    ) -> None:
        self.limits = limits
        self._owns_http = http is None
        self._http = http or httpx.Client(
            base_url=base_url, transport=deadline_transport(), trust_env=False,
            follow_redirects=False,
        )
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept-Encoding": "identity",
                         "Accept": "application/json"}
        self._clock = clock
        self._monotonic = monotonic_clock
        self._in_flight = threading.BoundedSemaphore(limits.max_in_flight)
        self.reachability = ReachabilityTracker()
        self.bad_answers = validation.BadAnswerCounter()

    def close(self) -> None:
        if self._owns_http:  # an injected client belongs to whoever made it
            self._http.close()

    # -- calls -----------------------------------------------------------------------------
    def query_person(self, citizen_id: str) -> PersonAnswer:
        return self.call(
            PERSONS, {"citizen_id": citizen_id}, PersonAnswer,
            lambda a: validation.check_person(a, citizen_id, self._clock()),
        )

    def query_payments(
        self, citizen_id: str, from_period: str | None = None, to_period: str | None = None
    ) -> PaymentsAnswer:
        body: dict[str, Any] = {"citizen_id": citizen_id}
        if from_period:
            body["from_period"] = from_period
        if to_period:
            body["to_period"] = to_period
        return self.call(
            PAYMENTS, body, PaymentsAnswer,
            lambda a: validation.check_payments(a, self._clock()),
        )

    def verify_ecard_token(self, token: str, device_id: str | None = None) -> TokenAnswer:
        """Whose the code is; `device_id` is the terminal that scanned it (a code issued for
        another terminal is refused). Raises TokenInvalid, TokenExpired, TokenUsed,
        TokenOtherTerminal, or CentralUnavailable."""
        body = {"token": token} if device_id is None else {"token": token, "device_id": device_id}
        return self.call(
            TOKENS, body, TokenAnswer,
            lambda a: validation.check_token(a, self._clock()),
        )

    def probe(self, timeout_s: float = 2.0) -> bool:
        """GET health within `timeout_s` in all; records and returns reachability. Never raises."""
        deadline = Deadline(timeout_s, self._monotonic)
        try:
            with within(deadline), self._http.stream(
                "GET", HEALTH, timeout=self._timeout(deadline)
            ) as response:
                ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        self.reachability.mark(ok)
        return ok

    # -- plumbing --------------------------------------------------------------------------
    def call(
        self, path: str, body: dict[str, Any], model: type[A], check: Callable[[A], A]
    ) -> A:
        """POST `body` to `path` and return the answer decoded as `model` and passed through
        `check` (which raises BadAnswer); the one way every contract call is made."""
        try:
            exchange = self._exchange(path, body)
            if exchange.status == 200:
                if exchange.media_type not in _JSON_TYPES:
                    raise BadAnswer("content-type is not JSON", repr(exchange.media_type[:40]))
                answer = check(validation.decode(model, exchange.body))
                self.reachability.mark(True)
                return answer
            raise self._refusal(path, exchange)
        except BadAnswer as exc:
            # Reachable, but of no use: as an outage for the citizen, loud for operators.
            self.reachability.mark(False)
            self.bad_answers.count(exc.reason)
            log.error("refused the central platform's answer on %s: %s%s", path, exc.reason,
                      f" ({exc.detail})" if exc.detail else "")
            raise

    def _exchange(self, path: str, body: dict[str, Any]) -> _Exchange:
        if not self._in_flight.acquire(blocking=False):
            # Fail fast: waiting would hold one more worker thread on a platform that is
            # already not keeping up.
            log.warning("%d central calls in flight already; not waiting",
                        self.limits.max_in_flight)
            raise CentralUnavailable(f"{path}: too many calls in flight")
        deadline = Deadline(self.limits.deadline_s, self._monotonic)
        try:
            with within(deadline), self._http.stream(
                "POST", path, json=body, headers=self._headers, timeout=self._timeout(deadline)
            ) as response:
                cap = self.limits.max_answer_bytes if response.status_code == 200 else (
                    MAX_PROBLEM_BYTES)
                try:
                    content = read_body(response, cap, deadline)
                except BadAnswer:
                    if response.status_code == 200:
                        raise
                    content = b""  # an error's body is only a hint
                return _Exchange(response.status_code, media_type(response), content)
        except httpx.TimeoutException as exc:
            self.reachability.mark(False)
            raise CentralUnavailable(f"{path}: deadline or timeout") from exc
        except httpx.HTTPError as exc:
            self.reachability.mark(False)
            raise CentralUnavailable(f"{path}: {type(exc).__name__}") from exc
        except CentralUnavailable:  # the deadline passed between reads
            self.reachability.mark(False)
            raise
        finally:
            self._in_flight.release()

    def _timeout(self, deadline: Deadline) -> httpx.Timeout:
        left = max(deadline.remaining(), 0.001)
        return httpx.Timeout(min(self.limits.timeout_s, left), pool=left)

    def _refusal(self, path: str, exchange: _Exchange) -> Exception:
        """The error a non-200 answer means; only the contract's codes mean anything but
        "unavailable"."""
        status = exchange.status
        code = _problem_code(exchange)
        refusal = _CONTRACT_REFUSALS.get((status, code or ""))
        if refusal is not None and _REFUSAL_PATHS.get(refusal, path) != path:
            refusal = None  # a code this call does not have in the contract
        self.reachability.mark(status < 500 and (status not in (401, 403) or refusal is not None))
        if refusal is not None:
            return refusal(code)
        if status in (401, 403):
            # A configuration fault, not the citizen's: operators must see it.
            log.error("the central platform rejected our API key (%d) on %s", status, path)
            return CentralUnavailable(f"{path}: {status}")
        if status < 500:
            # A 404 from a misrouted gateway is not "this person does not exist".
            return BadAnswer(f"{status} without a contract code", code or "")
        log.warning("the central platform answered %d %s on %s", status, code or "", path)
        return CentralUnavailable(f"{path}: {status} {code or ''}".strip())


def _problem_code(exchange: _Exchange) -> str | None:
    if exchange.media_type != PROBLEM_JSON or not exchange.body:
        return None
    try:
        parsed = parse_problem(json.loads(exchange.body))
    except (ValueError, RecursionError):
        return None
    return parsed[0] if parsed else None


def client_from_settings(
    settings: EdgeSettings, *, http: httpx.Client | None = None, clock: Clock = utc_now
) -> CentralClient:
    """The client `settings` describe; `http` lets tests plug in a transport."""
    return CentralClient(
        settings.central_url,
        settings.central_api_key.get_secret_value(),
        CentralLimits(
            timeout_s=settings.central_timeout_s, deadline_s=settings.central_deadline_s,
            max_answer_bytes=settings.central_max_answer_bytes,
            max_in_flight=settings.central_max_in_flight,
        ),
        http=http,
        clock=clock,
    )
