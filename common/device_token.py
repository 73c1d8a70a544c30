"""The device credential of docs/contracts/edge-api.md ("Device credential"): the one home of
the token function. Provisioning issues tokens, the edge verifies and refreshes them.

    dev2 token = "dev2." + device_id + "." + expires + "." + base64url_nopad(
                 HMAC-SHA256(hall_secret, "hrss-kiosk device v2:" + device_id + "." + expires))

`expires` is the expiry in whole UNIX seconds (decimal ASCII digits), inside the MAC'd text so
that nobody can extend it. The legacy dev1 token (no expiry) is
"dev1." + device_id + "." + base64url_nopad(HMAC-SHA256(hall_secret, "hrss-kiosk device v1:" +
device_id)); it is verified only when the caller allows it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from common.device_id import check_device_id, is_device_id

VERSION = "dev2"
LEGACY_VERSION = "dev1"
_CONTEXT = {VERSION: "hrss-kiosk device v2:", LEGACY_VERSION: "hrss-kiosk device v1:"}
MAX_TOKEN_CHARS = 256
# 9999-12-31T23:59:59Z, the last second a datetime holds: bounds the field.
_MAX_EXPIRY = 253_402_300_799
_MAX_EXPIRY_DIGITS = len(str(_MAX_EXPIRY))


class InvalidToken(ValueError):
    """Missing, malformed, forged, or of a refused version; the reason is for the log only."""


class ExpiredToken(InvalidToken):
    """Genuine but past its expiry: the device must be provisioned again."""

    def __init__(self, device_id: str, expires_at: dt.datetime) -> None:
        super().__init__(f"token of device {device_id} expired at {expires_at.isoformat()}")
        self.device_id = device_id
        self.expires_at = expires_at


@dataclass(frozen=True)
class DeviceCredential:
    device_id: str
    version: str
    expires_at: dt.datetime | None  # None: a legacy dev1 token, which never expires


def _mac(hall_secret: str, text: str) -> str:
    digest = hmac.new(hall_secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _expiry_seconds(expires_at: dt.datetime) -> int:
    if expires_at.tzinfo is None:
        raise ValueError("naive datetime: give the expiry with its tzinfo")
    return int(expires_at.timestamp())


def device_token(hall_secret: str, device_id: str, expires_at: dt.datetime) -> str:
    """A dev2 token for `device_id`, valid until `expires_at` (whole seconds)."""
    check_device_id(device_id)
    if not hall_secret:
        raise ValueError("a hall secret must not be empty")
    seconds = _expiry_seconds(expires_at)
    if not 0 < seconds <= _MAX_EXPIRY:
        raise ValueError("the expiry is out of range")
    expires = str(seconds)
    mac = _mac(hall_secret, f"{_CONTEXT[VERSION]}{device_id}.{expires}")
    return f"{VERSION}.{device_id}.{expires}.{mac}"


def legacy_device_token(hall_secret: str, device_id: str) -> str:
    """The dev1 token of the previous release (no expiry): for compatibility checks only."""
    check_device_id(device_id)
    mac = _mac(hall_secret, _CONTEXT[LEGACY_VERSION] + device_id)
    return f"{LEGACY_VERSION}.{device_id}.{mac}"


def _parse(token: str) -> tuple[str, str, str | None, str]:
    """(version, device_id, expires or None, mac) of a well-formed token; raises InvalidToken."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidToken("malformed")
    parts = token.split(".")
    if parts[0] == VERSION and len(parts) == 4:
        version, device_id, expires, mac = parts
        # isdigit() is True for non-ASCII digits too, but the token is ASCII by now.
        if not (0 < len(expires) <= _MAX_EXPIRY_DIGITS and expires.isdigit()
                and 0 < int(expires) <= _MAX_EXPIRY):
            raise InvalidToken("malformed expiry")
    elif parts[0] == LEGACY_VERSION and len(parts) == 3:
        version, device_id, mac = parts
        expires = None
    else:
        raise InvalidToken("malformed or unknown version")
    if not is_device_id(device_id):
        raise InvalidToken("malformed device id")
    return version, device_id, expires, mac


def read_token(token: str) -> DeviceCredential:
    """What a well-formed token says about itself, NOT verified: for its holder (the kiosk),
    which has no hall secret and needs only its device and expiry. Never a basis for trust.
    Raises InvalidToken when malformed."""
    version, device_id, expires, _mac = _parse(token)
    expires_at = None if expires is None else dt.datetime.fromtimestamp(int(expires), dt.UTC)
    return DeviceCredential(device_id, version, expires_at)


def verify_token(
    token: str,
    hall_secrets: Sequence[str],
    *,
    now: dt.datetime,
    accept_legacy: bool = False,
) -> DeviceCredential:
    """The credential of a genuine token signed with any of `hall_secrets` (the current one
    and those still in their rotation overlap). Raises ExpiredToken past the expiry (only once
    the MAC is genuine: a forger learns nothing), InvalidToken otherwise."""
    version, device_id, expires, mac = _parse(token)
    if version == LEGACY_VERSION and not accept_legacy:
        raise InvalidToken(f"legacy {LEGACY_VERSION} token of device {device_id} refused")
    text = _CONTEXT[version] + device_id + ("" if expires is None else f".{expires}")
    # Every secret is tried, in constant time each: which one matched does not show in timing.
    matched = False
    for secret in hall_secrets:
        if secret:
            matched |= hmac.compare_digest(mac.encode(), _mac(secret, text).encode())
    if not matched:
        raise InvalidToken(f"bad signature for device {device_id}")
    if expires is None:
        return DeviceCredential(device_id, version, None)
    expires_at = dt.datetime.fromtimestamp(int(expires), dt.UTC)
    if now >= expires_at:
        raise ExpiredToken(device_id, expires_at)
    return DeviceCredential(device_id, version, expires_at)
