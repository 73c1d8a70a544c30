"""`AgentSettings`: the `[device]` and `[agent]` tables of the device file, `AGENT_*` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import DeviceSettings
from fleet.mqtt import BrokerAddress, MqttError
from fleet.protocol.messages import DeviceId


class AgentSettings(DeviceSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("device", "agent")
    model_config = SettingsConfigDict(
        env_prefix="AGENT_", env_nested_delimiter="__", extra="ignore"
    )

    device_id: DeviceId = Field(description="This terminal's id; also its MQTT client id.")
    site: str = Field("", description="Service hall or field team the terminal belongs to.")
    broker_url: str = "mqtt://127.0.0.1:1883"
    kiosk_status_url: str = "http://127.0.0.1:8600/status"
    state_dir: Path = Path("/var/lib/hrss-kiosk/fleet-agent")
    health_interval_s: float = Field(30.0, gt=0)
    # Reported version of the kiosk app; by default the kiosk's status endpoint says, else the
    # installed package's version.
    app_version: str | None = None
    # Peripherals this terminal should have: reported (as missing) even if the kiosk never
    # answered since the agent started. Provisioning writes the list.
    peripherals: list[str] = Field(default_factory=list)
    keepalive_s: int = Field(30, ge=5)
    # With the contract's clean start a session never outlives its connection in practice;
    # commands missed while away are re-sent by the manager on the next birth.
    session_expiry_s: int = Field(300, ge=0)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    kiosk_timeout_s: float = Field(2.0, gt=0)
    disk_path: Path = Path("/")
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    log_level: str = "INFO"

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        try:
            BrokerAddress.parse(value)
        except MqttError as exc:
            raise ValueError(str(exc)) from None
        return value
