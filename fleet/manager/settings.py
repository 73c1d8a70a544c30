"""`FleetManagerSettings`: the `[fleet_manager]` table, `FLEET_MANAGER_*` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import DeviceSettings
from fleet.mqtt import BrokerAddress, MqttError


class FleetManagerSettings(DeviceSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("fleet_manager",)
    model_config = SettingsConfigDict(
        env_prefix="FLEET_MANAGER_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8300, ge=1, le=65535)
    broker_url: str = "mqtt://127.0.0.1:1883"
    # SQLite (WAL) for a hall; PostgreSQL for a province with several manager processes.
    database_url: str = "sqlite:///fleet.db"
    # A device whose last message is older than this (or than 3 of its own health intervals,
    # whichever is longer) is marked offline even without a Will.
    offline_after_s: float = Field(90.0, gt=0)
    # A fixed client id gives this process a persistent MQTT session: the broker keeps its share
    # of the messages while it restarts. Leave unset for a fresh id per process (a process that
    # is gone for good must not keep a session that still receives a share of the load).
    client_id: str | None = None
    session_expiry_s: int = Field(3600, ge=0)
    keepalive_s: int = Field(30, ge=5)
    # Unacknowledged messages the broker may have in flight to us; we acknowledge after commit.
    receive_maximum: int = Field(10_000, ge=1, le=65_535)
    ingest_batch_max: int = Field(2000, ge=1)
    # At most one health sample per device per interval is kept as history (0: none).
    history_interval_s: float = Field(300.0, ge=0)
    default_command_ttl_s: int = Field(300, ge=1)
    access_log: bool = False
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
