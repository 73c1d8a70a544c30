"""Synchronous client of the edge API (docs/contracts/edge-api.md), called from worker threads.

- ONE attempt per call, bounded by a total deadline (connect, headers and body together) and a
  maximum answer size. Retries belong to the caller (kiosk.flow.retry), once per user action:
  a client that also retried would multiply the attempts of one tap.
- Every call carries the device's bearer token, swappable at any time (`set_token`, by the
  renewer in kiosk.edge.credentials); every state-changing call carries the Idempotency-Key
  the caller passes in (one per logical action, the same on every retry).
- A 401 (`unauthorized`, `token-expired`) from any call is reported to `on_credential_refused`:
  the kiosk is then out of service, whichever part of it made the call.
- Answers are validated as data (kiosk.edge.models) before anyone sees them.
- Errors come out typed: `EdgeUnreachable` (no usable answer, retry is safe) or
  `EdgeProblem(code, status)`.
- Nothing logged here holds citizen data: paths are logged as templates, bodies never.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from common.clock import Deadline
from common.http import AnswerTooLarge, DeadlinePassed, deadline_transport, read_bounded, within
from common.problem import PROBLEM_JSON
from common.version import __version__
from kiosk.edge.certification import CertificationReceipt, CertificationStatus
from kiosk.edge.errors import INVALID_RESPONSE, EdgeProblem, EdgeUnreachable
from kiosk.edge.keys import new_idempotency_key
from kiosk.edge.models import (
    ApplicationDraft,
    Applications,
    Benefits,
    CardStatus,
    Contributions,
    Credential,
    DeviceTokenIssued,
    EdgeHealth,
    PensionAccount,
    Precheck,
    Receipt,
    SessionOpened,
    SubmissionKind,
    Subsidies,
)
from kiosk.edge.problems import problem_from
from kiosk.edge.reachability import EdgeReachability
from kiosk.field.edge_calls import FieldQueue, TripPrepared

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO, and session URLs carry the session id (which,
# with the device token, opens the citizen's data): keep those loggers quiet.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

API = "/api/v1"
# The largest answer (24 months of payments) is a few kB; anything far beyond is not an answer.
MAX_ANSWER_BYTES = 256 * 1024

M = TypeVar("M", bound=BaseModel)
__all__ = ["EdgeClient", "new_idempotency_key"]


class EdgeClient:
    """One per process; thread-safe (httpx.Client pools connections across threads)."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        device_token: str,
        *,
        deadline_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        transport: httpx.BaseTransport | None = None,
        on_credential_refused: Callable[[EdgeProblem], None] | None = None,
    ) -> None:
        self._deadline_s = deadline_s
        self._token_lock = threading.Lock()
        self._authorization = f"Bearer {device_token}"
        self._on_refused = on_credential_refused
        self._connect_timeout_s = connect_timeout_s
        self._max_bytes = max_answer_bytes
        self.reachability = EdgeReachability()  # every call's outcome, for /status
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={
                "Accept": f"application/json, {PROBLEM_JSON}",
                "User-Agent": f"hrss-kiosk/{__version__} ({device_id})",
            },
            transport=transport or deadline_transport(max_connections=8, max_keepalive=4),
            follow_redirects=False,
            trust_env=False,  # a proxy set in the environment must not see citizen data
        )

    def close(self) -> None:
        self._http.close()

    def set_token(self, device_token: str) -> None:
        """Use `device_token` for every call from now on (calls in flight keep the old one)."""
        with self._token_lock:
            self._authorization = f"Bearer {device_token}"

    # The API -------------------------------------------------------------------------------

    def health(self) -> EdgeHealth:
        return self._call("GET", "/health", EdgeHealth, label="/health")

    def open_session(self, credential: Credential, *, idempotency_key: str) -> SessionOpened:
        """POST /sessions: identify the citizen; 201 with the masked display name."""
        return self._call(
            "POST", "/sessions", SessionOpened, json=credential.body(), key=idempotency_key,
            label="/sessions",
        )

    def get_session(self, session_id: str) -> SessionOpened:
        return self._call(
            "GET", f"/sessions/{session_id}", SessionOpened, label="/sessions/{id}"
        )

    def get_benefits(self, session_id: str) -> Benefits:
        return self._call(
            "GET", f"/sessions/{session_id}/benefits", Benefits, label="/sessions/{id}/benefits"
        )

    def get_contributions(self, session_id: str) -> Contributions:
        """Contributions by year and scheme (months paid, base, personal, employer)."""
        return self._call("GET", f"/sessions/{session_id}/contributions", Contributions,
                          label="/sessions/{id}/contributions")

    def get_pension_account(self, session_id: str) -> PensionAccount:
        """The pension personal account: its balance and one entry per year."""
        return self._call("GET", f"/sessions/{session_id}/pension-account", PensionAccount,
                          label="/sessions/{id}/pension-account")

    # Citizen services (issue 6) ------------------------------------------------------------

    def get_subsidies(self, session_id: str) -> Subsidies:
        """The subsidies this citizen may apply for, each with its eligibility and form."""
        return self._call("GET", f"/sessions/{session_id}/subsidies", Subsidies,
                          label="/sessions/{id}/subsidies")

    def precheck(self, session_id: str, draft: ApplicationDraft) -> Precheck:
        """The risk checks of an application, recording nothing (`checked` False: not now)."""
        return self._call("POST", f"/sessions/{session_id}/applications/precheck", Precheck,
                          json=draft.body(), label="/sessions/{id}/applications/precheck")

    def apply(self, session_id: str, draft: ApplicationDraft, *,
              idempotency_key: str) -> Receipt:
        """Submit an application: 201 with its receipt (sent, queued or refused)."""
        receipt: Receipt = self._call(
            "POST", f"/sessions/{session_id}/applications", Receipt, json=draft.body(),
            key=idempotency_key, label="/sessions/{id}/applications",
        )
        return _of_kind(receipt, SubmissionKind.SUBSIDY_APPLICATION, "/sessions/{id}/applications")

    def get_applications(self, session_id: str) -> Applications:
        return self._call("GET", f"/sessions/{session_id}/applications", Applications,
                          label="/sessions/{id}/applications")

    def get_card(self, session_id: str) -> CardStatus:
        return self._call("GET", f"/sessions/{session_id}/card", CardStatus,
                          label="/sessions/{id}/card")

    def report_card_loss(self, citizen_id: str, pin: str, *, idempotency_key: str) -> Receipt:
        """Report a card lost without the card: the ID number and the service PIN."""
        receipt: Receipt = self._call(
            "POST", "/card-loss/reports", Receipt, json={"citizen_id": citizen_id, "pin": pin},
            key=idempotency_key, label="/card-loss/reports",
        )
        return _of_kind(receipt, SubmissionKind.CARD_LOSS_REPORT, "/card-loss/reports")

    def reverse_card_loss(self, card: Credential, pin: str, *,
                          idempotency_key: str) -> Receipt:
        """Reverse a loss report (解挂) with the card in hand: its identity and the PIN."""
        receipt: Receipt = self._call(
            "POST", "/card-loss/reversals", Receipt,
            json={"card": dict(card.fields), "pin": pin}, key=idempotency_key,
            label="/card-loss/reversals",
        )
        return _of_kind(receipt, SubmissionKind.CARD_LOSS_REVERSAL, "/card-loss/reversals")

    def get_submission(self, receipt_no: str) -> Receipt:
        """Where a submission stands, by its receipt number (any terminal of the hall)."""
        receipt: Receipt = self._call("GET", f"/submissions/{receipt_no}", Receipt,
                                      label="/submissions/{no}")
        if receipt.receipt_no != receipt_no:
            raise EdgeProblem(INVALID_RESPONSE, 200,
                              title="GET /submissions/{no} answered about another receipt")
        return receipt

    # Pension certification (issue 7) --------------------------------------------------------

    def get_certification(self, session_id: str) -> CertificationStatus:
        """Whether this citizen's certification is due, in plain words, with the enrolment
        photo's template for the on-terminal check (kept in memory only)."""
        return self._call("GET", f"/sessions/{session_id}/certification", CertificationStatus,
                          label="/sessions/{id}/certification")

    def submit_certification(self, session_id: str, body: dict[str, Any], *,
                             idempotency_key: str) -> CertificationReceipt:
        """POST the evidence and the signed record: 201 with its receipt; 422 with the edge's
        reason when its second judgement (or the record) refuses it."""
        return self._call("POST", f"/sessions/{session_id}/certifications",
                          CertificationReceipt, json=body, key=idempotency_key,
                          label="/sessions/{id}/certifications")

    # Field mode (issue 7: a field terminal's own edge, docs/field-mode.md) ------------------

    def prepare_trip(self, village: str) -> TripPrepared:
        """POST /field/trips: download the village's roster of pensioners due (encrypted)."""
        return self._call("POST", "/field/trips", TripPrepared, json={"village": village},
                          label="/field/trips")

    def field_queue(self) -> FieldQueue:
        """GET /field/queue: records waiting to sync and when the last sync happened."""
        return self._call("GET", "/field/queue", FieldQueue, label="/field/queue")

    def open_by_id_number(self, citizen_id: str, *, idempotency_key: str) -> SessionOpened:
        """POST /field/sessions by ID number (the card is at home), from the trip's roster."""
        return self._call("POST", "/field/sessions", SessionOpened,
                          json={"method": "id-number", "citizen_id": citizen_id},
                          key=idempotency_key, label="/field/sessions")

    def renew_token(self, *, idempotency_key: str) -> DeviceTokenIssued:
        """POST /device/token (no body): a fresh token; the same one again for the same key."""
        return self._call(
            "POST", "/device/token", DeviceTokenIssued, key=idempotency_key,
            label="/device/token",
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
        raw_max_bytes: int | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """One call. `raw_max_bytes`: the answer is a document (a PDF), returned as bytes up to
        that size instead of validated JSON. `deadline_s`: a shorter total deadline than the
        client's (a call made inside another's, such as a card's)."""
        what = f"{method} {label}"
        with self._token_lock:
            headers = {"Authorization": self._authorization}
        if key is not None:
            headers["Idempotency-Key"] = key
        total_s = self._deadline_s if deadline_s is None else min(deadline_s, self._deadline_s)
        deadline = Deadline(total_s)
        started = time.monotonic()
        try:
            with within(deadline):
                request = self._http.build_request(
                    method, path, json=json, headers=headers,
                    timeout=httpx.Timeout(total_s,
                                          connect=min(self._connect_timeout_s, total_s)),
                )
                response = self._http.send(request, stream=True)
                try:
                    content = read_bounded(response, raw_max_bytes or self._max_bytes, deadline)
                finally:
                    response.close()
        except (httpx.TransportError, DeadlinePassed) as exc:  # connect, deadline, resets, ...
            self.reachability.record(False)
            raise EdgeUnreachable(f"{type(exc).__name__} on {what}") from exc
        except AnswerTooLarge:
            self.reachability.record(True)  # it answered, too much
            raise EdgeProblem(INVALID_RESPONSE, response.status_code,
                              title=f"answer larger than {raw_max_bytes or self._max_bytes}"
                                    f" bytes on {what}"
                              ) from None
        status = response.status_code
        if 200 <= status < 300:
            self.reachability.record(True)
        log.debug("edge %s -> %d in %.0f ms", what, status, (time.monotonic() - started) * 1000)
        if not 200 <= status < 300:
            error = problem_from(status, response.headers.get("content-type", ""), content,
                                 response.headers.get("retry-after"), what)
            self.reachability.record(not isinstance(error, EdgeUnreachable))  # a gateway's 5xx
            if isinstance(error, EdgeProblem) and error.credential_refused:
                self._credential_refused(error)
            raise error
        if raw_max_bytes is not None:
            return content
        if model is None:
            return None
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            # Field locations only: pydantic's own text quotes the values (citizen data), so
            # it is neither kept as the cause nor shown in a traceback.
            fields = ", ".join(
                ".".join(str(part) for part in error["loc"]) or "body"
                for error in exc.errors()[:5]
            )
            raise EdgeProblem(
                INVALID_RESPONSE, status, title=f"unexpected answer body for {what} ({fields})",
            ) from None

    def _credential_refused(self, problem: EdgeProblem) -> None:
        listener = self._on_refused
        if listener is None:
            return
        try:
            listener(problem)
        except Exception:  # the caller still gets its EdgeProblem
            log.exception("credential listener failed")


def _of_kind(receipt: Receipt, kind: SubmissionKind, label: str) -> Receipt:
    """The receipt must be for what was submitted (identity of the record)."""
    if receipt.kind != kind:
        raise EdgeProblem(INVALID_RESPONSE, 201,
                          title=f"POST {label} answered with a receipt of another kind")
    return receipt
