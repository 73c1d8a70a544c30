"""Typed failures of an edge call: the flow decides what the citizen sees from these alone.

One error base, `EdgeError`: a call either returns a validated answer or raises one of these.
"""

from __future__ import annotations

from typing import Any


class EdgeError(Exception):
    """Base of everything an edge call raises."""


class EdgeUnreachable(EdgeError):
    """No answer: connection refused, timeout, reset, or a proxy saying the edge is gone.

    Safe to retry with the same Idempotency-Key.
    """


class EdgeProblem(EdgeError):
    """The edge answered with an RFC 9457 problem (or an error we could not parse as one).

    `code` is the contract's stable machine name; `title`/`detail` are English for operators and
    hold no citizen data by contract. `extra` keeps extension members such as `card_status`.
    """

    def __init__(
        self,
        code: str,
        status: int,
        title: str = "",
        detail: str = "",
        retry_after_s: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}" + (f": {title}" if title else ""))
        self.code = code
        self.status = status
        self.title = title
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.extra = dict(extra or {})

    @property
    def card_status(self) -> str | None:
        value = self.extra.get("card_status")
        return value if isinstance(value, str) else None

    @property
    def credential_refused(self) -> bool:
        """The edge refuses the device's token (401): retrying cannot help.

        Only a 401: an e-SSC QR token the edge calls `token-expired` comes with 410, and a
        citizen's stale QR code must not put the terminal out of service.
        """
        return self.code in CREDENTIAL_CODES and self.status == 401

    @property
    def transient(self) -> bool:
        """Worth retrying the same action later (with the same Idempotency-Key)."""
        if self.code in FINAL_CODES:
            return False
        return self.code in TRANSIENT_CODES or self.status >= 500


# Codes from docs/contracts/edge-api.md.
UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token-expired"  # noqa: S105 (a problem code)
BAD_REQUEST = "bad-request"
VALIDATION_ERROR = "validation-error"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
METHOD_NOT_ALLOWED = "method-not-allowed"
TOO_MANY_REQUESTS = "too-many-requests"
INVALID_CITIZEN_ID = "invalid-citizen-id"
IDEMPOTENCY_KEY_REQUIRED = "idempotency-key-required"
IDEMPOTENCY_KEY_REUSED = "idempotency-key-reused"
IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency-key-in-flight"
CITIZEN_NOT_FOUND = "citizen-not-found"
CARD_NOT_VALID = "card-not-valid"
SESSION_NOT_FOUND = "session-not-found"
CENTRAL_UNAVAILABLE = "central-unavailable"
PAYLOAD_TOO_LARGE = "payload-too-large"
DUPLICATE_APPLICATION = "duplicate-application"  # 409: this claim has a receipt already
OUTBOX_FULL = "outbox-full"  # 503: the edge holds as many unsent submissions as it may
# Opening a session by e-SSC QR token (issue 8): the citizen's token, not the device's.
QR_TOKEN_INVALID = "token-invalid"  # noqa: S105 (a problem code) 422: forged, not ours
QR_TOKEN_EXPIRED = TOKEN_EXPIRED  # 410 here (the device's own is a 401)
QR_TOKEN_USED = "token-used"  # noqa: S105 409: replayed
QR_TOKEN_OTHER_TERMINAL = "token-other-terminal"  # noqa: S105 403: issued for another
# Opening a session by resident ID card (issue 8).
IDCARD_EXPIRED = "idcard-expired"  # 403
IDCARD_MISMATCH = "idcard-mismatch"  # 403: the name differs from central's record
# Not in the contract: answers that were not problem+json, or 2xx bodies we could not read.
INVALID_RESPONSE = "invalid-response"

CONTRACT_CODES = frozenset({
    UNAUTHORIZED, TOKEN_EXPIRED, BAD_REQUEST, VALIDATION_ERROR, UNSUPPORTED_MEDIA_TYPE,
    METHOD_NOT_ALLOWED, TOO_MANY_REQUESTS, INVALID_CITIZEN_ID, IDEMPOTENCY_KEY_REQUIRED,
    IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_FLIGHT, CITIZEN_NOT_FOUND, CARD_NOT_VALID,
    SESSION_NOT_FOUND, CENTRAL_UNAVAILABLE, PAYLOAD_TOO_LARGE, DUPLICATE_APPLICATION,
    OUTBOX_FULL,
})
# Retried with the same Idempotency-Key, after Retry-After when the edge sends one (a 429 is
# never stored under the key, so the retry is processed afresh).
TRANSIENT_CODES = frozenset({IDEMPOTENCY_KEY_IN_FLIGHT, CENTRAL_UNAVAILABLE,
                             TOO_MANY_REQUESTS})
# Server-side but not worth an automatic retry while the citizen waits: a full outbox stays
# full until the platform is back, which is a matter of hours, not of seconds.
FINAL_CODES = frozenset({OUTBOX_FULL, "certificates-unavailable"})  # (no office key: staff)
# The edge refuses this terminal's credential: nothing a citizen can do, never retried; the
# kiosk is out of service until staff act (kiosk.edge.credentials reports it on /status).
CREDENTIAL_CODES = frozenset({UNAUTHORIZED, TOKEN_EXPIRED})
