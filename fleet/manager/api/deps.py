"""What route handlers may depend on, in one place: the manager built by `create_app` (kept on
`app.state`), its registry, and the shared path and header types."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request

from common.device_id import DEVICE_ID_PATTERN
from fleet.manager.registry import Registry
from fleet.manager.service import FleetManager

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def get_manager(request: Request) -> FleetManager:
    manager: FleetManager = request.app.state.manager
    return manager


def get_registry(request: Request) -> Registry:
    return get_manager(request).registry


ManagerDep = Annotated[FleetManager, Depends(get_manager)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
DeviceIdPath = Annotated[str, Path(pattern=DEVICE_ID_PATTERN)]
