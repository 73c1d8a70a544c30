"""Device authentication: the bearer token of docs/contracts/edge-api.md ("Device credential").

The token function is `common.device_token` (provisioning issues with the same one). This
module adds what only the edge knows: the accepted secrets (current and rotation overlap),
whether legacy dev1 tokens are still allowed, and the revoked devices.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.device_token import DeviceCredential, ExpiredToken, InvalidToken, verify_token
from common.problem import Problem
from edge_server.context import EdgeContext, get_context

UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token-expired"  # noqa: S105 - a problem code, not a secret

log = logging.getLogger(__name__)
# Parses "Authorization: Bearer ..." and documents the scheme in the OpenAPI; errors are ours.
_bearer = HTTPBearer(auto_error=False, description="Device token (edge-api.md)")


def hall_secrets(ctx: EdgeContext) -> list[str]:
    """The secrets a token may be signed with: the current one first, then the overlap."""
    settings = ctx.settings
    return [settings.hall_secret.get_secret_value()] + [
        s.get_secret_value() for s in settings.previous_hall_secrets
    ]


def verify_device(ctx: EdgeContext, token: str) -> DeviceCredential:
    """The credential of a genuine, unexpired, unrevoked token; raises InvalidToken.

    A token whose signature verified once is remembered (the secrets and the legacy rule are
    fixed for the process), so later requests skip the MACs; its expiry and the revocation
    list are checked every time."""
    now = ctx.now()
    remembered = ctx.verified_tokens.get(token)
    if isinstance(remembered, DeviceCredential):
        credential = remembered
        if credential.expires_at is not None and now >= credential.expires_at:
            raise ExpiredToken(credential.device_id, credential.expires_at)
    else:
        credential = verify_token(
            token, hall_secrets(ctx), now=now, accept_legacy=ctx.settings.accept_dev1_tokens
        )
        ctx.verified_tokens.put(token, credential)
    if credential.device_id in ctx.settings.revoked_devices:
        raise InvalidToken(f"device {credential.device_id} is revoked")
    return credential


async def require_credential(
    ctx: Annotated[EdgeContext, Depends(get_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> DeviceCredential:
    """FastAPI dependency: the calling device's credential, or 401 (`token-expired` for a
    genuine token past its expiry, `unauthorized` for everything else).

    Async, as the other cheap dependencies are: a sync one would cost a worker-thread hop on
    every request (a few MACs at most, on the first sight of a token, run in the loop)."""
    try:
        if credentials is None:
            raise InvalidToken("no bearer credential")
        return verify_device(ctx, credentials.credentials.strip())
    except ExpiredToken as exc:
        log.warning("rejected a device credential: %s", exc)
        raise Problem(
            401, TOKEN_EXPIRED, "The device credential has expired; provision the device again"
        ) from None
    except InvalidToken as exc:
        log.warning("rejected a device credential: %s", exc)
        raise Problem(401, UNAUTHORIZED, "Missing or invalid device credential") from None


async def require_device(
    credential: Annotated[DeviceCredential, Depends(require_credential)],
) -> str:
    """FastAPI dependency: the calling device's id."""
    return credential.device_id
