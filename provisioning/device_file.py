"""The device file: one TOML per terminal, read by every process on it (common/settings.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provisioning.device_credentials import device_token


@dataclass(frozen=True)
class DeviceProfile:
    device_id: str
    site: str
    edge_url: str
    broker_url: str


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render(profile: DeviceProfile, hall_secret: str) -> str:
    token = device_token(hall_secret, profile.device_id)
    return (
        "# Written by `kioskctl provision device`. Holds this terminal's credential: keep 0600.\n"
        "[device]\n"
        f"device_id = {_toml_str(profile.device_id)}\n"
        f"site = {_toml_str(profile.site)}\n\n"
        "[kiosk]\n"
        f"edge_url = {_toml_str(profile.edge_url)}\n"
        f"device_token = {_toml_str(token)}\n\n"
        "[agent]\n"
        f"broker_url = {_toml_str(profile.broker_url)}\n"
    )


def write(path: Path, profile: DeviceProfile, hall_secret: str) -> Path:
    """Write atomically with owner-only permissions (the file holds a credential)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render(profile, hall_secret))
    os.replace(tmp, path)
    return path
