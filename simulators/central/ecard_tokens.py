"""Electronic social security card QR tokens: opaque, HMAC-signed, short-lived and single-use.

A token is base64url (no padding) of: version (1 byte), population index (4 bytes), expiry as
Unix seconds (4 bytes), a random nonce (9 bytes), a terminal tag (8 bytes: zero when the code
may be scanned anywhere, else a keyed hash of the device id it was issued for) and the first 16
bytes of HMAC-SHA256(secret, everything before). It names the citizen by population index,
never by ID number, and the terminal by a keyed hash, so a photographed QR code gives nothing
away once it has expired.

Single use is the ledger's (`TokenLedger`): the first successful verification consumes the
token's nonce; a replay is refused until the token would have expired anyway, after which the
entry is dropped (an expired token is refused as expired, so the ledger stays small).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import secrets
import struct
import threading
from dataclasses import dataclass

_VERSION = 2
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
# 42 bytes in all, a multiple of 3: no base64 padding bits, so one token has one spelling.
_BODY = struct.Struct(">BII9s8s")
_MAC_LEN = 16
_TOKEN_LEN = _BODY.size + _MAC_LEN
_UNBOUND = bytes(8)
# The national platform's codes refresh every minute; nothing here lives longer.
MAX_TTL_S = 60
# Bounds the ledger's memory under a flood of verifications (entries live <= MAX_TTL_S).
MAX_LEDGER = 200_000


class TokenInvalid(ValueError):
    """Not a token of ours: wrong shape or signature."""


class TokenExpired(ValueError):
    """A genuine token past its expiry."""


class TokenUsed(ValueError):
    """A genuine token that was already verified once (a replay)."""


class TokenOtherTerminal(ValueError):
    """A genuine token issued for another terminal."""


@dataclass(frozen=True)
class TokenClaims:
    index: int
    expires_at: dt.datetime
    nonce: bytes
    bound: bool  # issued for one terminal


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()[:_MAC_LEN]


def _terminal_tag(secret: bytes, device_id: str) -> bytes:
    tag = hmac.new(secret, b"terminal:" + device_id.encode("utf-8"), hashlib.sha256).digest()[:8]
    return tag if tag != _UNBOUND else b"\x00" * 7 + b"\x01"


def issue(secret: bytes, index: int, expires_at: dt.datetime, *,
          device_id: str | None = None) -> str:
    """A token for citizen `index`, valid until `expires_at`, for `device_id` only if given."""
    tag = _UNBOUND if device_id is None else _terminal_tag(secret, device_id)
    body = _BODY.pack(_VERSION, index, int(expires_at.timestamp()), secrets.token_bytes(9), tag)
    return base64.urlsafe_b64encode(body + _mac(secret, body)).rstrip(b"=").decode("ascii")


def verify(secret: bytes, token: str, now: dt.datetime, *,
           device_id: str | None = None) -> TokenClaims:
    """The claims of a genuine, unexpired token that this terminal may use; raises
    TokenInvalid, TokenExpired or TokenOtherTerminal (single use is the ledger's)."""
    # The alphabet is checked first: the decoder would skip foreign characters, so that
    # "tok*en" or " token" would pass as the same token.
    if len(token) > 2 * _TOKEN_LEN or not _ALPHABET.fullmatch(token):
        raise TokenInvalid("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("not base64url") from exc
    if len(raw) != _TOKEN_LEN:
        raise TokenInvalid("wrong length")
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenInvalid("bad signature")
    version, index, expires, nonce, tag = _BODY.unpack(body)
    if version != _VERSION:
        raise TokenInvalid("unknown version")
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    if now >= expires_at:
        raise TokenExpired("token expired")
    bound = tag != _UNBOUND
    if bound and (device_id is None
                  or not hmac.compare_digest(tag, _terminal_tag(secret, device_id))):
        raise TokenOtherTerminal("token issued for another terminal")
    return TokenClaims(index=index, expires_at=expires_at, nonce=nonce, bound=bound)


class TokenLedger:
    """The nonces of tokens already verified, until they expire; thread-safe."""

    def __init__(self, max_entries: int = MAX_LEDGER) -> None:
        self._used: dict[bytes, dt.datetime] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def consume(self, claims: TokenClaims, now: dt.datetime) -> None:
        """Mark the token used; TokenUsed if it already was."""
        with self._lock:
            if claims.nonce in self._used:
                raise TokenUsed("token already used")
            if len(self._used) >= self._max:
                self._prune(now)
            if len(self._used) >= self._max:
                # Full of live tokens: refusing is safer than forgetting one (a replay).
                raise TokenUsed("too many tokens in use; try a fresh code")
            self._used[claims.nonce] = claims.expires_at

    def _prune(self, now: dt.datetime) -> None:
        for nonce in [n for n, until in self._used.items() if until <= now]:
            del self._used[nonce]

    def __len__(self) -> int:
        return len(self._used)


_LEDGER_ATTRIBUTE = "_ecard_token_ledger"
_ledger_lock = threading.Lock()


def ledger_of(state: object) -> TokenLedger:
    """The ledger of one simulator process's state (made on first use)."""
    with _ledger_lock:
        ledger = getattr(state, _LEDGER_ATTRIBUTE, None)
        if not isinstance(ledger, TokenLedger):
            ledger = TokenLedger()
            setattr(state, _LEDGER_ATTRIBUTE, ledger)
        return ledger
