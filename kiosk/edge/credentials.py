"""The terminal's edge credential over its lifetime (docs/contracts/edge-api.md, "Rotation").

- `TokenFile`: the renewed token, kept across restarts in the kiosk's state directory
  (atomically, 0600). It is a device credential, not citizen data.
- `choose_token`: at start, the persisted token when it is this device's and outlives the one
  in the device file; else the device file's.
- `DeviceCredentials`: the state /status reports (valid, renewing, expired, refused) and the
  expiry; an edge that refuses the token (any call, kiosk.edge.client) puts it out of service.
- `TokenRenewer`: one background thread that renews when less than a third of the lifetime is
  left, with ONE Idempotency-Key per series of attempts, so that a lost answer gets the same
  token back; the new token is used by every later call at once and then persisted.

Tokens are never logged, only their expiry. What a token says about itself is read with
common.device_token.read_token (the one parser); the kiosk cannot verify it (no hall secret),
the edge does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from common.backoff import Backoff
from common.clock import Clock, iso_utc, utc_now
from common.device_token import InvalidToken, read_token
from common.files import write_atomically
from kiosk.edge.errors import (
    IDEMPOTENCY_KEY_REUSED,
    TOKEN_EXPIRED,
    EdgeError,
    EdgeProblem,
    EdgeUnreachable,
)
from kiosk.edge.keys import new_idempotency_key
from kiosk.edge.models import DeviceTokenIssued

log = logging.getLogger(__name__)

STATE_FILE_NAME = "edge-token.json"
MAX_TOKEN_FILE_BYTES = 4096
# Renew when less than this share of the lifetime is left (edge-api.md, "Rotation").
RENEW_WHEN_LEFT = 1 / 3
# Even a far-off renewal is re-planned this often: a wall clock that jumps (NTP after a cold
# start) must not leave the renewer asleep past the expiry.
MAX_SLEEP_S = 3600.0


class CredentialState(StrEnum):
    VALID = "valid"  # well before its renewal moment, or renewed
    RENEWING = "renewing"  # due for renewal and not renewed yet (the edge may be away)
    EXPIRED = "expired"  # past its expiry, or the edge says so: provision the terminal again
    REFUSED = "refused"  # the edge answers 401 unauthorized (revoked, another hall's, forged)
    UNREADABLE = "unreadable"  # the device file holds no well-formed token


@dataclass(frozen=True)
class CredentialStatus:
    state: CredentialState
    expires_at: dt.datetime | None  # None: a legacy dev1 token, or none at all
    renewed_at: dt.datetime | None = None  # the last renewal by this process

    @property
    def out_of_service(self) -> bool:
        return self.state in (CredentialState.EXPIRED, CredentialState.REFUSED,
                              CredentialState.UNREADABLE)


@dataclass(frozen=True)
class HeldToken:
    """A token and what the kiosk knows of it. `issued_at` is when this kiosk received it
    (None for the device file's token, whose issue time it cannot know)."""

    device_id: str
    token: str
    expires_at: dt.datetime | None
    issued_at: dt.datetime | None = None

    def __repr__(self) -> str:  # never the token
        return f"HeldToken(device_id={self.device_id}, expires_at={self.expires_at})"


def held(token: str, *, issued_at: dt.datetime | None = None) -> HeldToken:
    """A token as the kiosk holds it; raises InvalidToken when it is malformed."""
    credential = read_token(token)
    return HeldToken(credential.device_id, token, credential.expires_at, issued_at)


def renew_at(token: HeldToken, assumed_lifetime: dt.timedelta) -> dt.datetime | None:
    """When to renew: a third of the lifetime before the expiry. The lifetime is known for a
    token this kiosk received (issued_at); for the device file's it is assumed (provisioning's
    default), so a short-lived provisioned token is renewed at once. None: never (dev1)."""
    if token.expires_at is None:
        return None
    lifetime = (token.expires_at - token.issued_at) if token.issued_at else assumed_lifetime
    return token.expires_at - max(lifetime, dt.timedelta(0)) * RENEW_WHEN_LEFT


class TokenFile:
    """The renewed token in `<state_dir>/edge-token.json`, read back as hostile data."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE_NAME

    def load(self) -> HeldToken | None:
        try:
            with self.path.open("rb") as fh:
                raw = fh.read(MAX_TOKEN_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the persisted edge token (%s)", type(exc).__name__)
            return None
        try:
            if len(raw) > MAX_TOKEN_FILE_BYTES:
                raise ValueError("too large")
            data = json.loads(raw)
            token = data["token"]
            issued_at = dt.datetime.fromisoformat(data["issued_at"])
            if not isinstance(token, str) or issued_at.tzinfo is None:
                raise ValueError("wrong types")
            return held(token, issued_at=issued_at)
        except (ValueError, TypeError, KeyError, RecursionError):  # InvalidToken is a ValueError
            log.warning("ignoring a malformed persisted edge token at %s", self.path)
            return None

    def save(self, token: HeldToken) -> None:
        assert token.issued_at is not None, "only received tokens are persisted"
        data = {"device_id": token.device_id, "token": token.token,
                "issued_at": iso_utc(token.issued_at)}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.path, json.dumps(data).encode(), mode=0o600)


def choose_token(configured: HeldToken, stored: HeldToken | None) -> HeldToken:
    """The persisted token when it is this device's and expires later than the device file's
    (a terminal provisioned again gets the new file's token)."""
    if stored is None or stored.device_id != configured.device_id:
        return configured
    if configured.expires_at is None or stored.expires_at is None:
        return configured  # a dev1 token in either place: the device file decides
    return stored if stored.expires_at > configured.expires_at else configured


class DeviceCredentials:
    """The current token and its state, shared by the renewer, the client's 401 hook and
    /status. Thread-safe."""

    def __init__(self, token: HeldToken | None, *, clock: Clock = utc_now,
                 assumed_lifetime: dt.timedelta = dt.timedelta(days=90)) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.assumed_lifetime = assumed_lifetime
        self._token = token
        self._refused: CredentialState | None = None if token else CredentialState.UNREADABLE
        self._renewed_at: dt.datetime | None = None

    @property
    def token(self) -> HeldToken | None:
        with self._lock:
            return self._token

    def status(self) -> CredentialStatus:
        with self._lock:
            token, refused, renewed_at = self._token, self._refused, self._renewed_at
        expires_at = token.expires_at if token else None
        if refused is not None:
            return CredentialStatus(refused, expires_at, renewed_at)
        assert token is not None
        now = self._clock()
        due = renew_at(token, self.assumed_lifetime)
        if expires_at is not None and now >= expires_at:
            state = CredentialState.EXPIRED
        elif due is not None and now >= due:
            state = CredentialState.RENEWING
        else:
            state = CredentialState.VALID
        return CredentialStatus(state, expires_at, renewed_at)

    def renewed(self, token: HeldToken) -> None:
        with self._lock:
            self._token = token
            self._refused = None
            self._renewed_at = token.issued_at

    def refused(self, problem: EdgeProblem) -> None:
        """The edge answered 401 to some call: out of service until staff act."""
        state = CredentialState.EXPIRED if problem.code == TOKEN_EXPIRED else (
            CredentialState.REFUSED)
        with self._lock:
            changed, self._refused = self._refused != state, state
            expires_at = self._token.expires_at if self._token else None
        if changed:
            log.error("the edge refuses this terminal's credential (%s, expiry %s): out of "
                      "service until it is provisioned again", problem.code,
                      iso_utc(expires_at) if expires_at else "none")


def load_credentials(
    device_id: str,
    configured: str,
    state_dir: Path | None,
    *,
    assumed_lifetime: dt.timedelta,
    clock: Clock = utc_now,
) -> tuple[DeviceCredentials, TokenFile | None]:
    """The credentials to start with: the device file's token or the persisted one."""
    store = TokenFile(state_dir) if state_dir is not None else None
    try:
        token: HeldToken | None = held(configured)
    except InvalidToken:
        log.error("the device file holds no well-formed edge token: out of service")
        token = None
    if token is not None and token.device_id != device_id:
        log.error("the device file's edge token is for another device: out of service")
        token = None
    if token is not None and store is not None:
        chosen = choose_token(token, store.load())
        if chosen is not token:
            log.info("using the renewed edge token of %s (expires at %s)", store.path,
                     iso_utc(chosen.expires_at) if chosen.expires_at else "never")
        token = chosen
    if token is not None:
        log.info("edge token expires at %s", iso_utc(token.expires_at)
                 if token.expires_at else "never (legacy dev1)")
    return DeviceCredentials(token, clock=clock, assumed_lifetime=assumed_lifetime), store


class TokenEndpoint(Protocol):
    """What the renewer needs of kiosk.edge.client.EdgeClient."""

    def renew_token(self, *, idempotency_key: str) -> DeviceTokenIssued: ...

    def set_token(self, device_token: str) -> None: ...


class TokenRenewer:
    """Renews the token in the background; `stop()` returns within `stop_timeout_s` (a call in
    flight ends by the client's own total deadline, and its token is still kept)."""

    def __init__(
        self,
        edge: TokenEndpoint,
        credentials: DeviceCredentials,
        store: TokenFile | None,
        *,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
        new_key: Callable[[], str] = new_idempotency_key,
        stop_timeout_s: float = 1.0,
    ) -> None:
        self._edge = edge
        self._credentials = credentials
        self._store = store
        self._clock = clock
        # Minutes, not seconds: nobody waits on a renewal, and a hall's kiosks must not press
        # an edge that has just come back.
        self._backoff = backoff or Backoff(initial_s=30.0, max_s=1800.0, jitter=0.5)
        self._new_key = new_key
        self._stop_timeout_s = stop_timeout_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="token-renewer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._stop_timeout_s)

    def _run(self) -> None:
        try:
            self.run_until_stopped()
        except Exception:  # a bug here must not take the kiosk down; /status still reports
            log.exception("token renewer failed")

    def run_until_stopped(self) -> None:
        key: str | None = None  # one per series of attempts: a lost answer is replayed
        failures = 0
        while not self._stopping.is_set():
            wait = self._until_due()
            if wait is None:
                return
            if wait > 0:
                self._stopping.wait(min(wait, MAX_SLEEP_S))
                continue
            key = key or self._new_key()
            delay, key, failures = self.attempt(key, failures)
            if delay:
                self._stopping.wait(delay)

    def _until_due(self) -> float | None:
        """Seconds until the renewal is due (<= 0: now); None: it never will be."""
        status = self._credentials.status()
        token = self._credentials.token
        if token is None or status.state is CredentialState.EXPIRED:
            return None  # an expired token cannot renew: staff provision the terminal again
        due = renew_at(token, self._credentials.assumed_lifetime)
        if due is None:
            return None
        return (due - self._clock()).total_seconds()

    def attempt(self, key: str, failures: int) -> tuple[float, str | None, int]:
        """One renewal call: (seconds to wait, key for the next attempt, failures so far)."""
        try:
            answer = self._edge.renew_token(idempotency_key=key)
        except EdgeUnreachable as exc:
            log.warning("token renewal: edge unreachable (%s); will retry", exc)
            return self._backoff.delay(failures + 1), key, failures + 1
        except EdgeProblem as problem:
            return self._after_problem(problem, key, failures)
        except EdgeError as exc:
            log.warning("token renewal failed: %s", exc)
            return self._backoff.delay(failures + 1), key, failures + 1
        try:
            token = self._accept(answer)
        except InvalidToken as exc:
            log.warning("token renewal: the answer is not a usable token (%s)", exc)
            return self._backoff.delay(failures + 1), None, failures + 1
        self._edge.set_token(token.token)
        self._credentials.renewed(token)
        log.info("edge token renewed; the new one expires at %s", iso_utc(token.expires_at)
                 if token.expires_at else "never")
        self._persist(token)
        return 0.0, None, 0

    def _after_problem(self, problem: EdgeProblem, key: str,
                       failures: int) -> tuple[float, str | None, int]:
        if problem.credential_refused:
            self._credentials.refused(problem)  # (the client's hook may have, too)
            if problem.code == TOKEN_EXPIRED:
                return 0.0, None, failures  # the next _until_due ends the loop
            return self._backoff.max_s, key, failures + 1  # revoked? ask now and then
        log.warning("token renewal refused: %s %s", problem.status, problem.code)
        # A key the edge holds for another request cannot succeed again: a fresh one. Any
        # other refusal (429 with Retry-After, 503, 409 in flight) keeps the key.
        next_key = None if problem.code == IDEMPOTENCY_KEY_REUSED else key
        return (self._backoff.delay(failures + 1, problem.retry_after_s), next_key,
                failures + 1)

    def _accept(self, answer: DeviceTokenIssued) -> HeldToken:
        """The answer as data: a dev2 token of this device, expiring when it says, in the
        future."""
        current = self._credentials.token
        token = held(answer.token, issued_at=self._clock())
        if current is None or token.device_id != current.device_id:
            raise InvalidToken("a token for another device")
        if answer.device_id != token.device_id:
            raise InvalidToken("the answer's device id is not the token's")
        if token.expires_at is None:
            raise InvalidToken("a token without expiry")
        if abs((token.expires_at - answer.expires_at).total_seconds()) >= 1:
            raise InvalidToken("the answer's expiry is not the token's")
        if token.issued_at is not None and token.expires_at <= token.issued_at:
            raise InvalidToken("the new token has already expired (clock?)")
        # A token shorter-lived than the current one is still taken: the edge decides the
        # lifetime (edge.device_token_ttl_s), and refusing it would strand the kiosk when the
        # current one expires.
        return token

    def _persist(self, token: HeldToken) -> None:
        if self._store is None:
            log.info("no state directory: the renewed token lasts until the kiosk restarts")
            return
        try:
            self._store.save(token)
        except OSError as exc:
            # The new token is in use; at the next start the device file's token (still
            # valid until its own expiry) is used and renewed again.
            log.warning("cannot persist the renewed edge token at %s (%s)", self._store.path,
                        type(exc).__name__)
