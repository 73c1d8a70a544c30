"""Per-device credentials for the kiosk → edge API (docs/contracts/edge-api.md).

The token function itself lives in `common.device_token`, shared with the edge that verifies
it; this module decides what provisioning issues: a dev2 token with an expiry.
"""

from __future__ import annotations

import datetime as dt
import secrets

from common.clock import Clock, utc_now
from common.device_id import InvalidDeviceId
from common.device_token import device_token

__all__ = ["DEFAULT_TOKEN_TTL", "InvalidDeviceId", "issue_token", "new_hall_secret"]

# Long enough that a terminal switched off for a season still starts; the edge's refresh
# endpoint renews it long before (edge-api.md, "Rotation").
DEFAULT_TOKEN_TTL = dt.timedelta(days=90)


def new_hall_secret() -> str:
    """A hall's enrolment secret: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def issue_token(
    hall_secret: str,
    device_id: str,
    ttl: dt.timedelta = DEFAULT_TOKEN_TTL,
    *,
    clock: Clock = utc_now,
) -> str:
    """The bearer token a terminal presents to its hall's edge server, valid for `ttl`."""
    if ttl <= dt.timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    return device_token(hall_secret, device_id, clock() + ttl)
