"""Device authentication: the bearer token of docs/contracts/edge-api.md ("Device credential").

The token function is `common.device_token` (provisioning issues with the same one). This
module adds what only the edge knows: the accepted secrets (current and rotation overlap),
whether legacy dev1 tokens are still allowed, and the revoked devices.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from common.device_token import DeviceCredential, ExpiredToken, InvalidToken, verify_token
from common.problem import Problem
from edge_server.context import EdgeContext

UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token-expired"  # noqa: S105 - a problem code, not a secret

log = logging.getLogger(__name__)


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


class DeviceBearer(HTTPBearer):
    """FastAPI dependency: the calling device's credential, or 401 (`token-expired` for a
    genuine token past its expiry, `unauthorized` for everything else).

    One dependency that parses the bearer header itself (and is documented in the OpenAPI as
    the HTTP bearer scheme, being one): FastAPI resolves every dependency node on every
    request, and the chain it replaces (context, bearer, credential, device) cost more than
    the rest of a cached read. Async: verifying is a few MACs at most, on a token's first
    sight, and a sync dependency costs a worker-thread hop."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="Device token (edge-api.md)")

    async def __call__(self, request: Request) -> DeviceCredential:  # type: ignore[override]
        credentials = await super().__call__(request)
        return credential_of(request.app.state.edge,
                             None if credentials is None else credentials.credentials)


def credential_of(ctx: EdgeContext, token: str | None) -> DeviceCredential:
    """The credential of a bearer token, or the 401 problem that refuses it."""
    try:
        if token is None:
            raise InvalidToken("no bearer credential")
        return verify_device(ctx, token.strip())
    except ExpiredToken as exc:
        log.warning("rejected a device credential: %s", exc)
        raise Problem(
            401, TOKEN_EXPIRED, "The device credential has expired; provision the device again",
        ) from None
    except InvalidToken as exc:
        log.warning("rejected a device credential: %s", exc)
        raise Problem(401, UNAUTHORIZED, "Missing or invalid device credential") from None


def request_device(request: Request) -> str:
    """`require_device` for a route that takes no FastAPI dependencies (the hottest read):
    the same header parsing (HTTPBearer's) and the same answers."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    bearer = token if scheme.lower() == "bearer" and token else None
    return credential_of(request.app.state.edge, bearer).device_id


class DeviceIdBearer(DeviceBearer):
    """The same check, answering the device's id (what most routes need)."""

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        return (await super().__call__(request)).device_id


require_credential = DeviceBearer()
require_device = DeviceIdBearer()
