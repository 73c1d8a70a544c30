"""Per-device credentials for the kiosk → edge API (docs/contracts/edge-api.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CONTEXT = b"hrss-kiosk device v1:"


class InvalidDeviceId(ValueError):
    pass


def new_hall_secret() -> str:
    """A hall's enrolment secret: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def device_token(hall_secret: str, device_id: str) -> str:
    """The bearer token a terminal presents to its hall's edge server."""
    if not DEVICE_ID.match(device_id):
        raise InvalidDeviceId(
            "a device id is 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    mac = hmac.new(hall_secret.encode(), _CONTEXT + device_id.encode(), hashlib.sha256).digest()
    return f"dev1.{device_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
