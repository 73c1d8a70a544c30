"""`FleetManagerSettings`: the `[fleet_manager]` table, `FLEET_MANAGER_*` overrides."""

from __future__ import annotations

import re
import socket
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
    # The MQTT client id names this process's persistent session (clean start off): the broker
    # keeps its share of the messages, in flight or queued, while it restarts, kill -9 included.
    # It must stay the same across restarts and differ between the managers of one group; by
    # default it is `fleet-manager-<instance>`.
    client_id: str | None = Field(None, min_length=1, max_length=128)
    # This manager process's name: default `<hostname>-<port>` (two managers on one host listen
    # on different ports, and a restarted one gets the same name back).
    instance: str | None = Field(None, min_length=1, max_length=100)
    # How long the broker keeps the session of a manager that is away. A manager retired for
    # good: run it once with 0 so that its session (and its share of the load) goes with it.
    session_expiry_s: int = Field(86_400, ge=0)
    # Unacknowledged messages the broker may have in flight to us; we acknowledge after commit.
    receive_maximum: int = Field(10_000, ge=1, le=65_535)
    ingest_batch_max: int = Field(2000, ge=1)
    # At most one health sample per device per interval is kept as history (0: none).
    history_interval_s: float = Field(300.0, ge=0)
    default_command_ttl_s: int = Field(300, ge=1)
    # session_seq is time-based (ms since the epoch): a presence or health message whose session
    # is further ahead of this manager's clock than this is rejected (docs/contracts/fleet-mqtt.md).
    max_session_ahead_s: float = Field(600.0, gt=0, le=30 * 86_400)
    # Devices that never sent a health the registry stored are forgotten after this long.
    unconfirmed_retention_s: float = Field(86_400.0, gt=0)
    access_log: bool = False
    # How often every unfinished rollout takes a step (sends due, counts results).
    rollout_tick_s: float = Field(1.0, gt=0, le=60)


    def mqtt_client_id(self) -> str:
        if self.client_id is not None:
            return self.client_id
        instance = self.instance or f"{socket.gethostname()}-{self.port}"
        # Only characters every broker accepts in a client id.
        return "fleet-manager-" + re.sub(r"[^A-Za-z0-9_-]", "-", instance)
