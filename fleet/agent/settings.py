"""`AgentSettings`: the `[device]` and `[agent]` tables of the device file, `AGENT_*` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fleet.protocol.messages import DeviceId
from fleet.settings import BrokerSettings


class AgentSettings(BrokerSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("device", "agent")
    model_config = SettingsConfigDict(
        env_prefix="AGENT_", env_nested_delimiter="__", extra="ignore"
    )

    device_id: DeviceId = Field(description="This terminal's id; also its MQTT client id.")
    site: str = Field("", description="Service hall or field team the terminal belongs to.")
    kiosk_status_url: str = "http://127.0.0.1:8600/status"
    state_dir: Path = Path("/var/lib/hrss-kiosk/fleet-agent")
    health_interval_s: float = Field(30.0, gt=0)
    # Reported version of the kiosk app; by default the kiosk's status endpoint says, else the
    # installed package's version.
    app_version: str | None = None
    # Peripherals this terminal should have: reported (as missing) even if the kiosk never
    # answered since the agent started. Provisioning writes the list.
    peripherals: list[str] = Field(default_factory=list)
    # Every connection starts clean (the contract), so nothing is ever resumed from a session
    # the broker keeps after a disconnect: commands missed while away are re-sent by the
    # manager after the next birth.
    session_expiry_s: int = Field(300, ge=0)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    kiosk_timeout_s: float = Field(2.0, gt=0)
    disk_path: Path = Path("/")

