"""The device file: one TOML per terminal, read by every process on it (common/settings.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from common.files import write_atomically
from provisioning.device_credentials import DEFAULT_TOKEN_TTL, issue_token


@dataclass(frozen=True)
class DeviceProfile:
    device_id: str
    site: str
    edge_url: str
    broker_url: str


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render(profile: DeviceProfile, token: str) -> str:
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


def write(
    path: Path, profile: DeviceProfile, hall_secret: str, *,
    token_ttl: dt.timedelta = DEFAULT_TOKEN_TTL,
) -> Path:
    """Write atomically with owner-only permissions (the file holds a credential)."""
    token = issue_token(hall_secret, profile.device_id, token_ttl)
    write_atomically(path, render(profile, token), mode=0o600)
    return path
