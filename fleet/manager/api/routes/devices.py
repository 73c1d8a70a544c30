"""Devices and their presence history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.problem import Problem
from fleet.manager.api.deps import DeviceIdPath, ManagerDep, RegistryDep
from fleet.manager.api.schemas import (
    ConfigIn,
    ConfigOut,
    DeviceList,
    DeviceOut,
    LabelsIn,
    PresenceEventOut,
)

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("")
def list_devices(
    registry: RegistryDep,
    site: str | None = None,
    online: bool | None = None,
    after: Annotated[str | None, Query(description="last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeviceList:
    devices = registry.list_devices(site=site, online=online, after=after, limit=limit)
    return DeviceList(
        items=[DeviceOut.of(d) for d in devices],
        next_after=devices[-1].id if len(devices) == limit else None,
    )


@router.get("/{device_id}")
def get_device(device_id: DeviceIdPath, registry: RegistryDep) -> DeviceOut:
    device = registry.get_device(device_id)
    if device is None:
        raise Problem(404, "device-not-found", "No such device")
    return DeviceOut.of(device)


@router.get("/{device_id}/presence-events")
def presence_events(
    device_id: DeviceIdPath,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[PresenceEventOut]:
    """Accepted presence changes, newest first."""
    if registry.get_device(device_id) is None:
        raise Problem(404, "device-not-found", "No such device")
    return [PresenceEventOut.of(e) for e in registry.presence_events(device_id, limit)]


@router.put("/{device_id}/labels")
def set_labels(device_id: DeviceIdPath, body: LabelsIn, registry: RegistryDep) -> LabelsIn:
    """Region and tags of a terminal, for rollout filters (idempotent: the same body again
    changes nothing). A terminal not yet seen may be labelled ahead of its first connection."""
    registry.set_labels(device_id, body.region, sorted(set(body.tags)))
    return LabelsIn(region=body.region, tags=sorted(set(body.tags)))


@router.get("/{device_id}/config")
def get_config(device_id: DeviceIdPath, registry: RegistryDep) -> ConfigOut:
    """Desired and reported configuration, and the drift between them."""
    config = registry.get_config(device_id)
    if config is None:
        if registry.get_device(device_id) is None:
            raise Problem(404, "device-not-found", "No such device")
        return ConfigOut.empty(device_id)
    return ConfigOut.of(config)


@router.put("/{device_id}/config")
def set_config(device_id: DeviceIdPath, body: ConfigIn, manager: ManagerDep) -> ConfigOut:
    """A new desired configuration: a new revision, sent to the terminal as `set-config` (now
    if it is online, else after its next birth; it replaces any older one not yet answered)."""
    return ConfigOut.of(manager.config.set_desired(device_id, body.desired, body.base_revision))

