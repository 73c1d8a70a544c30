"""The terminal's signing key (Ed25519): created beside its device file by `kioskctl provision
device`, kept when the device file is provisioned again (central knows its public key), and
its public half registered with central (the simulator's control endpoint)."""

from __future__ import annotations

from pathlib import Path

import httpx

from common.signing import generate_device_key, load_device_key, public_key_b64

KEY_SUFFIX = ".signing-key.pem"


def key_path(device_file: Path) -> Path:
    """Where a device file's signing key is: `<dir>/<stem>.signing-key.pem`."""
    return device_file.with_name(device_file.stem + KEY_SUFFIX)


def ensure_key(device_file: Path) -> str:
    """The key beside `device_file`, created (0600) when missing; its public key (base64)."""
    path = key_path(device_file)
    try:
        return generate_device_key(path)
    except FileExistsError:
        return public_key_b64(load_device_key(path))


class RegistrationFailed(RuntimeError):
    """Central did not take the public key (unreachable, or refused it)."""


def register_key(central_url: str, device_id: str, public_key: str, *,
                 timeout_s: float = 5.0) -> None:
    """Tell central this terminal's public key (`POST /sim/v1/devices/{id}/key`)."""
    url = central_url.rstrip("/") + f"/sim/v1/devices/{device_id}/key"
    try:
        response = httpx.post(url, json={"public_key": public_key}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RegistrationFailed(f"{url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise RegistrationFailed(f"{url}: HTTP {response.status_code}")
