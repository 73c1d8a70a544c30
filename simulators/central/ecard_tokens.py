"""Electronic social security card QR tokens: opaque, HMAC-signed and short-lived.

A token is base64url (no padding) of: version (1 byte), population index (4 bytes), expiry as
Unix seconds (4 bytes), a random nonce (8 bytes) and the first 16 bytes of
HMAC-SHA256(secret, everything before). It names the citizen by population index, never by ID
number, so a photographed QR code gives nothing away once it has expired.
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
from dataclasses import dataclass

_VERSION = 1
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_BODY = struct.Struct(">BII8s")
_MAC_LEN = 16
_TOKEN_LEN = _BODY.size + _MAC_LEN


class TokenInvalid(ValueError):
    """Not a token of ours: wrong shape or signature."""


class TokenExpired(ValueError):
    """A genuine token past its expiry."""


@dataclass(frozen=True)
class TokenClaims:
    index: int
    expires_at: dt.datetime


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()[:_MAC_LEN]


def issue(secret: bytes, index: int, expires_at: dt.datetime) -> str:
    body = _BODY.pack(_VERSION, index, int(expires_at.timestamp()), secrets.token_bytes(8))
    return base64.urlsafe_b64encode(body + _mac(secret, body)).rstrip(b"=").decode("ascii")


def verify(secret: bytes, token: str, now: dt.datetime) -> TokenClaims:
    """The claims of a genuine, unexpired token; raises TokenInvalid or TokenExpired."""
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
    version, index, expires, _nonce = _BODY.unpack(body)
    if version != _VERSION:
        raise TokenInvalid("unknown version")
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    if now >= expires_at:
        raise TokenExpired("token expired")
    return TokenClaims(index=index, expires_at=expires_at)
