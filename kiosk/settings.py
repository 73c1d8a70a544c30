"""The kiosk process's settings: `[device]` and `[kiosk]` of the device file, `KIOSK_*` env."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import DeviceSettings

DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

# WCAG 2.2.1 (Timing Adjustable): warn at least 20 s before a timeout and let the user extend it.
MIN_IDLE_WARNING_S = 20.0


class KioskSettings(DeviceSettings):
    """Everything the kiosk process reads at start-up. Nothing here is citizen data.

    Defaults fit a typical 人社 hall terminal: a free-standing portrait touch panel
    (1080x1920, 21.5"-32") on the hall's edge server, with the elder theme, because most people
    at these terminals are pensioners and larger text costs younger users nothing.
    """

    toml_tables = ("device", "kiosk")
    model_config = SettingsConfigDict(
        env_prefix="KIOSK_", env_nested_delimiter="__", extra="ignore"
    )

    # Identity and the edge server (written by provisioning).
    device_id: str = "unprovisioned"
    device_token: SecretStr = SecretStr("")
    edge_url: str = "http://127.0.0.1:8200"
    edge_timeout_s: float = Field(10.0, gt=0, description="read timeout of one edge call")
    edge_connect_timeout_s: float = Field(2.0, gt=0)

    # Loopback status endpoint read by the fleet agent (and automation when enabled).
    status_host: str = "127.0.0.1"
    status_port: int = Field(8600, ge=0, le=65535)

    # Peripherals. "none" runs without a card reader (a terminal that only takes QR or face,
    # and the window tests before the PC/SC driver lands).
    card_driver: Literal["pcsc", "none"] = "pcsc"
    card_reader: str | None = Field(None, description="substring of the PC/SC reader name")

    # Presentation.
    language: Literal["zh_CN", "en"] = "zh_CN"
    theme: Literal["normal", "elder"] = "elder"
    font_path: Path = CJK_FONT
    window_width: int = Field(1080, ge=320)
    window_height: int = Field(1920, ge=320)
    fullscreen: bool = False  # without a window manager a borderless panel-sized window is safer
    borderless: bool = True
    show_cursor: bool = False
    # "auto": animate unless the GL renderer is software (Mesa llvmpipe), where every animated
    # frame is a full-screen CPU redraw (1-2 cores at 1080x1920).
    animations: Literal["auto", "on", "off"] = "auto"

    # Timing.
    idle_timeout_s: float = Field(90.0, gt=0)
    idle_warning_s: float = Field(30.0, description="how long the 'are you still there' lasts")
    message_hold_s: float = Field(20.0, gt=0, description="a message about a pulled card stays")
    retry_initial_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(30.0, gt=0)

    # Tests and the demo only: loopback automation hooks and screenshots (which show whatever
    # is on screen, so never with real citizens).
    automation: bool = False
    screenshots_dir: Path | None = None

    log_level: str = "INFO"

    @field_validator("device_id")
    @classmethod
    def _device_id_shape(cls, value: str) -> str:
        if not DEVICE_ID_PATTERN.match(value):
            raise ValueError("device_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
        return value

    @field_validator("edge_url")
    @classmethod
    def _edge_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("edge_url must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _timing_is_humane(self) -> Self:
        if self.idle_warning_s < MIN_IDLE_WARNING_S:
            raise ValueError(f"idle_warning_s must be at least {MIN_IDLE_WARNING_S:.0f} s (WCAG)")
        if self.idle_warning_s >= self.idle_timeout_s:
            raise ValueError("idle_warning_s must be shorter than idle_timeout_s")
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError("retry_initial_s must not exceed retry_max_s")
        return self

    @model_validator(mode="after")
    def _automation_stays_local(self) -> Self:
        # The automation hooks can tap buttons and capture the screen: never off the machine.
        if self.automation and not _is_loopback(self.status_host):
            raise ValueError("automation needs status_host on loopback (127.0.0.1 or ::1)")
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
