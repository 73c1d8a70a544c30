"""Token rotation: a device with a valid token obtains a fresh one before its expiry."""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session

from common.clock import iso_utc
from common.device_token import DeviceCredential, device_token
from edge_server import audit
from edge_server.context import EdgeContext
from edge_server.idempotency import Commit
from edge_server.schemas import DeviceTokenView

log = logging.getLogger(__name__)


def refresh(ctx: EdgeContext, credential: DeviceCredential, commit: Commit) -> DeviceTokenView:
    """A dev2 token signed with the current hall secret, valid for `device_token_ttl_s`.

    Idempotent through the caller's Idempotency-Key: a retry gets the same token, so a lost
    answer never leaves the device holding a token it did not store.
    """
    now = ctx.now()
    expires_at = now + dt.timedelta(seconds=ctx.settings.device_token_ttl_s)
    token = device_token(ctx.settings.hall_secret.get_secret_value(), credential.device_id,
                         expires_at)
    # The token carries whole seconds; say exactly what it says.
    expires_at = expires_at.replace(microsecond=0)
    answer = DeviceTokenView(
        device_id=credential.device_id, token=token, expires_at=iso_utc(expires_at)
    )

    def write(db: Session) -> DeviceTokenView:
        audit.append(db, at=now, device_id=credential.device_id, action="device.token-refreshed",
                     outcome=credential.version)
        return answer

    result = commit(write)
    log.info("issued a fresh token to device %s, valid until %s", credential.device_id,
             answer.expires_at)
    return result
