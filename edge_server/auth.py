"""The device credential of docs/contracts/edge-api.md ("Device credential").

token = "dev1." + device_id + "." + base64url_nopad(HMAC-SHA256(hall_secret,
"hrss-kiosk device v1:" + device_id)). Provisioning computes the same from the same contract.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.problem import Problem
from edge_server.context import EdgeContext, get_context

TOKEN_VERSION = "dev1"  # noqa: S105 - a format tag, not a secret
MAC_CONTEXT = "hrss-kiosk device v1:"
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAX_TOKEN = 256

log = logging.getLogger(__name__)
# Parses "Authorization: Bearer ..." and documents the scheme in the OpenAPI; errors are ours.
_bearer = HTTPBearer(auto_error=False, description="Device token (edge-api.md)")


class InvalidToken(ValueError):
    """Missing, malformed, forged or revoked; the reason is for the log, never the client."""


def device_token(hall_secret: str, device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise ValueError("device id does not match the contract's pattern")
    mac = hmac.new(
        hall_secret.encode(), (MAC_CONTEXT + device_id).encode(), hashlib.sha256
    ).digest()
    return f"{TOKEN_VERSION}.{device_id}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify_token(token: str, hall_secret: str, revoked: frozenset[str] | set[str]) -> str:
    """The device id of a genuine, unrevoked token; raises InvalidToken."""
    if len(token) > _MAX_TOKEN or not token.isascii():
        raise InvalidToken("malformed")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION or not DEVICE_ID.match(parts[1]):
        raise InvalidToken("malformed")
    device_id = parts[1]
    # Compare the whole token in constant time: timing says nothing about the MAC.
    if not hmac.compare_digest(token.encode(), device_token(hall_secret, device_id).encode()):
        raise InvalidToken(f"bad signature for device {device_id}")
    if device_id in revoked:
        raise InvalidToken(f"device {device_id} is revoked")
    return device_id


def require_device(
    ctx: Annotated[EdgeContext, Depends(get_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """FastAPI dependency: the calling device's id, or 401 unauthorized."""
    try:
        if credentials is None:
            raise InvalidToken("no bearer credential")
        return verify_token(
            credentials.credentials.strip(),
            ctx.settings.hall_secret.get_secret_value(),
            frozenset(ctx.settings.revoked_devices),
        )
    except InvalidToken as exc:
        log.warning("rejected a device credential: %s", exc)
        raise Problem(401, "unauthorized", "Missing or invalid device credential") from None
