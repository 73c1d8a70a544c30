"""The one caller of the central benefit platform (docs/contracts/central-api.md).

Everything that can go wrong on the way (refused connection, timeout, 503 maintenance, any
other server error, a rejected API key, an answer that does not match the contract) becomes
`CentralUnavailable`: the caller then serves from its cache. 404 becomes `CentralNotFound`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

Reachability = Literal["unknown", "reachable", "unreachable"]


class CentralUnavailable(Exception):
    """The platform cannot answer now; the message is for operators (no citizen data)."""


class CentralNotFound(Exception):
    """The platform does not know this person."""


class TokenInvalid(Exception):
    """The electronic card code is not genuine."""


class TokenExpired(Exception):
    """The electronic card code has expired."""


# -- the contract's answers (personal fields hidden from repr: tracebacks get logged) ----------
class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CentralCard(_Answer):
    card_number: str = Field(repr=False)
    card_id_code: str = Field("", repr=False)
    generation: int | None = None
    status: str
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None


class CentralParticipation(_Answer):
    scheme: str
    scheme_name: str
    status: str
    since: str


class CentralPerson(_Answer):
    citizen_id: str = Field(repr=False)
    name: str = Field(repr=False)
    gender: str
    birth_date: dt.date = Field(repr=False)
    ethnicity: str = ""
    region: str = Field("", repr=False)
    cards: list[CentralCard]
    participation: list[CentralParticipation]


class CentralPayment(_Answer):
    period: str
    amount: Decimal
    paid_on: dt.date | None = None
    status: str
    bank: str
    account: str = Field(repr=False)


class PersonAnswer(_Answer):
    as_of: AwareDatetime
    person: CentralPerson


class PaymentsAnswer(_Answer):
    as_of: AwareDatetime
    items: list[CentralPayment]


A = TypeVar("A", bound=_Answer)


class TokenAnswer(_Answer):
    as_of: AwareDatetime | None = None
    citizen_id: str = Field(repr=False)
    expires_at: AwareDatetime


class ReachabilityTracker:
    """What the last contact with the platform said, for the health endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Reachability = "unknown"
        self._at: float | None = None

    def mark(self, reachable: bool) -> None:
        with self._lock:
            self._state = "reachable" if reachable else "unreachable"
            self._at = time.monotonic()

    @property
    def state(self) -> Reachability:
        with self._lock:
            return self._state

    def age_s(self) -> float | None:
        """Seconds since the last contact, None before the first."""
        with self._lock:
            return None if self._at is None else time.monotonic() - self._at


class CentralClient:
    """Thread-safe: route handlers in worker threads share one connection pool."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s))
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._timeout = httpx.Timeout(timeout_s)
        self.reachability = ReachabilityTracker()

    def close(self) -> None:
        if self._owns_http:  # an injected client belongs to whoever made it
            self._http.close()

    # -- calls -----------------------------------------------------------------------------
    def query_person(self, citizen_id: str) -> PersonAnswer:
        data = self._post("/central/v1/persons/query", {"citizen_id": citizen_id})
        return self._parse(PersonAnswer, data)

    def query_payments(
        self, citizen_id: str, from_period: str | None = None, to_period: str | None = None
    ) -> PaymentsAnswer:
        body: dict[str, Any] = {"citizen_id": citizen_id}
        if from_period:
            body["from_period"] = from_period
        if to_period:
            body["to_period"] = to_period
        data = self._post("/central/v1/pension-payments/query", body)
        return self._parse(PaymentsAnswer, data)

    def verify_ecard_token(self, token: str) -> TokenAnswer:
        data = self._post("/central/v1/ecard-tokens/verify", {"token": token})
        return self._parse(TokenAnswer, data)

    def probe(self, timeout_s: float = 2.0) -> bool:
        """GET health; records and returns reachability. Never raises."""
        try:
            response = self._http.get("/central/v1/health", timeout=timeout_s)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        self.reachability.mark(ok)
        return ok

    # -- plumbing --------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._http.post(path, json=body, headers=self._auth, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            self.reachability.mark(False)
            raise CentralUnavailable(f"{path}: timed out") from exc
        except httpx.HTTPError as exc:
            self.reachability.mark(False)
            raise CentralUnavailable(f"{path}: {type(exc).__name__}") from exc
        status = response.status_code
        self.reachability.mark(status < 500)
        if status == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise CentralUnavailable(f"{path}: answer is not JSON") from exc
        code = _problem_code(response)
        if status == 404:
            raise CentralNotFound(code or "not found")
        if status == 410:
            raise TokenExpired(code or "expired")
        if status == 422 and code == "token-invalid":
            raise TokenInvalid(code)
        if status in (401, 403):
            # A configuration fault, not the citizen's: operators must see it.
            log.error("the central platform rejected our API key (%d) on %s", status, path)
        else:
            log.warning("the central platform answered %d %s on %s", status, code or "", path)
        raise CentralUnavailable(f"{path}: {status} {code or ''}".strip())

    @staticmethod
    def _parse(model: type[A], data: Any) -> A:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Locations only: the values may be personal data.
            where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:5])
            log.error("the central platform's answer does not match the contract at %s", where)
            raise CentralUnavailable("answer does not match the contract") from None


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
