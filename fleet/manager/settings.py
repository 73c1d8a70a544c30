"""`FleetManagerSettings`: the `[fleet_manager]` table, `FLEET_MANAGER_*` overrides."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fleet.settings import BrokerSettings


class FleetManagerSettings(BrokerSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("fleet_manager",)
    model_config = SettingsConfigDict(
        env_prefix="FLEET_MANAGER_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8300, ge=1, le=65535)
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
    # Unacknowledged messages the broker may have in flight to us; we acknowledge after commit.
    receive_maximum: int = Field(10_000, ge=1, le=65_535)
    ingest_batch_max: int = Field(2000, ge=1)
    # At most one health sample per device per interval is kept as history (0: none).
    history_interval_s: float = Field(300.0, ge=0)
    default_command_ttl_s: int = Field(300, ge=1)
    access_log: bool = False

