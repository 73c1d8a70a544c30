"""The route dependencies, in one place: context, calling device, idempotent request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from common.device_token import DeviceCredential
from edge_server.auth import require_credential, require_device
from edge_server.context import EdgeContext, get_context
from edge_server.idempotency import IdempotentRequest, idempotent_request

Ctx = Annotated[EdgeContext, Depends(get_context)]
CurrentCredential = Annotated[DeviceCredential, Depends(require_credential)]
CurrentDevice = Annotated[str, Depends(require_device)]
Idempotent = Annotated[IdempotentRequest, Depends(idempotent_request)]
