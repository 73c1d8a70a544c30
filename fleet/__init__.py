"""Fleet management: the MQTT protocol shared by agent and manager (`fleet.protocol`), the agent
that runs on every terminal (`fleet.agent`) and the fleet manager (`fleet.manager`)."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    """Version of the installed stack; the agent reports it as its own version."""
    try:
        return metadata.version("hrss-kiosk")
    except metadata.PackageNotFoundError:
        return "0+unknown"
