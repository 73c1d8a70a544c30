"""`AgentSettings`: the `[device]` and `[agent]` tables of the device file, `AGENT_*` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fleet.protocol.limits import MAX_INTERVAL_S, MIN_INTERVAL_S
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
    # The hall's edge server (its base URL, e.g. http://127.0.0.1:8200): its GET /api/v1/health
    # (outbox, central reachability, cache) goes into every health message. None: not read.
    edge_url: str | None = None
    state_dir: Path = Path("/var/lib/hrss-kiosk/fleet-agent")
    # Within the protocol's range: a birth the manager would refuse keeps the terminal unseen.
    health_interval_s: float = Field(30.0, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
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
    # Total deadlines: the kiosk's status answer, the edge's health answer, and one MQTT
    # connection attempt (TCP, TLS, CONNACK and SUBACK together).
    kiosk_timeout_s: float = Field(2.0, gt=0, le=60)
    edge_timeout_s: float = Field(2.0, gt=0, le=60)
    connect_timeout_s: float = Field(10.0, gt=0, le=120)
    disk_path: Path = Path("/")
    # Answered commands remembered (to answer a redelivery without running it again): the last
    # this many, none longer than an hour past its expiry.
    answered_commands_max: int = Field(200, ge=1, le=10_000)


    # -- updates (fleet/agent/update; docs/fleet.md, "Updates on the terminal") ---------------
    # The A/B slots: <install_root>/{a,b} and the `current` link the kiosk's service starts
    # from. The agent's state_dir must lie outside it: an update replaces a slot whole.
    install_root: Path = Path("/opt/hrss-kiosk")
    # The TUF repository and the directory holding the trusted root.json (provisioned; never
    # taken from a command). metadata dir None: <state_dir>/tuf.
    update_repository_url: str = ""
    update_metadata_dir: Path | None = None
    # "module:factory" of the artifact client (fleet/updates/client.py's interface).
    update_client: str = "fleet.updates.client:ArtifactClient"
    download_timeout_s: float = Field(1800.0, gt=0, le=24 * 3600)
    # Restarts the kiosk app on the slot `current` points at (argv, no shell; it gets
    # HRSS_INSTALL_ROOT, HRSS_SLOT and HRSS_VERSION). It may restart the agent too: every
    # phase resumes after a restart.
    restart_command: list[str] = Field(
        default_factory=lambda: ["systemctl", "restart", "--no-block", "hrss-kiosk.service"])
    restart_timeout_s: float = Field(60.0, gt=0, le=600)
    # Daily hours (China time) in which an update may switch, "HH:MM-HH:MM"; None: any time.
    # Rollbacks do not wait for it (they only wait for the session lock).
    maintenance_window: str | None = Field(
        None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
    # The new release must report healthy within this long after the switch, or it is rolled
    # back; the update lock and the health gate are polled this often.
    commit_deadline_s: float = Field(300.0, gt=0, le=24 * 3600)
    update_poll_s: float = Field(2.0, gt=0, le=60)
    # Tests only: the update blocks at this point (a phase name, "install-partial" or
    # "switched") until the agent stops, so a test can kill it there.
    update_pause_at: str | None = None

    # -- remote commands (fleet/agent/commands, fleet/agent/shell_commands.py; docs/fleet.md,
    # "Remote commands"). `restart-app` runs restart_command (above) within restart_timeout_s.
    # `reboot` runs this (argv, no shell), only while no citizen session is open.
    reboot_command: list[str] = Field(default_factory=lambda: ["systemctl", "reboot"])
    reboot_timeout_s: float = Field(30.0, gt=0, le=600)
    # The kiosk's control API (at the status URL's host and port): the bearer token's file
    # (provisioned, mode 0600); None: `maintenance` and `screenshot` answer not-configured.
    kiosk_control_token_file: Path | None = None
    kiosk_control_timeout_s: float = Field(10.0, gt=0, le=60)
    # The widest screenshot asked of the kiosk (it is scaled down further to fit a result).
    screenshot_max_width: int = Field(1280, ge=64, le=4096)
    # The only files `logs` reads (their tails); None: that source answers not-configured.
    agent_log_file: Path | None = None
    kiosk_log_file: Path | None = None

    # -- health and configuration (docs/fleet.md, "Configuration") ------------------------------
    # Where the thermal zones are (the hottest one is reported as temperature_c); tests point it
    # at a fake directory. A missing directory: temperature_c is null.
    thermal_dir: Path = Path("/sys/class/thermal")
