"""The kiosk process's settings: `[device]` and `[kiosk]` of the device file, `KIOSK_*` env."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from common.device_id import check_device_id
from common.settings import DeviceSettings
from drivers.registry import Impl, PeripheralKind

log = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

# WCAG 2.2.1 (Timing Adjustable): warn at least 20 s before a timeout and let the user extend it.
MIN_IDLE_WARNING_S = 20.0


# A driver option from the environment arrives as text: "9600" and "0.5" are read as the
# numbers they spell (left to right: int, float, bool, else the text), as TOML would give them.
PeripheralOption = Annotated[int | float | bool | str, Field(union_mode="left_to_right")]


class PeripheralSettings(BaseModel):
    """`[peripherals]` of the device file: which implementation of each kind this terminal runs
    (drivers/registry.py). `KIOSK_PERIPHERALS__QR=simulated` overrides one."""

    # Unknown kinds are ignored, with a warning: a device file written for a newer release
    # must not keep the kiosk from starting after a rollback.
    model_config = ConfigDict(extra="ignore", frozen=True)

    card: Impl = Impl.REAL
    qr: Impl = Impl.ABSENT
    camera: Impl = Impl.ABSENT
    face: Impl = Impl.ABSENT
    printer: Impl = Impl.ABSENT
    pinpad: Impl = Impl.ABSENT
    idcard: Impl = Impl.ABSENT
    docprinter: Impl = Impl.ABSENT  # A4 through CUPS (drivers/docprinter)

    @model_validator(mode="before")
    @classmethod
    def _unknown_kinds(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k)[:32] for k in data if k not in cls.model_fields)
            if unknown:
                log.warning("[peripherals]: no such kind, ignored: %s", ", ".join(unknown))
        return data

    def impl(self, kind: PeripheralKind) -> Impl:
        return Impl(getattr(self, str(kind)))


class KioskSettings(DeviceSettings):
    """Everything the kiosk process reads at start-up. Nothing here is citizen data.

    Defaults fit a typical 人社 hall terminal: a free-standing portrait touch panel
    (1080x1920, 21.5"-32") on the hall's edge server, with the elder theme, because most people
    at these terminals are pensioners and larger text costs younger users nothing.
    """

    toml_tables = ("device", "kiosk")
    toml_nested = ("peripherals", "peripheral_options")
    model_config = SettingsConfigDict(
        env_prefix="KIOSK_", env_nested_delimiter="__", extra="ignore"
    )

    # Identity and the edge server (written by provisioning).
    device_id: str = "unprovisioned"
    device_token: SecretStr = SecretStr("")
    edge_url: str = "http://127.0.0.1:8200"
    edge_timeout_s: float = Field(10.0, gt=0, description="read timeout of one edge call")
    edge_connect_timeout_s: float = Field(2.0, gt=0)
    # Where the kiosk keeps state of its own between runs: the renewed edge token (a device
    # credential, never citizen data). Unset: the device file's folder (kiosk.edge.credentials).
    state_dir: Path | None = None
    # The lifetime assumed for the device file's token, whose issue time the kiosk cannot know
    # (provisioning's default, 90 days); it renews when less than a third of it is left.
    device_token_lifetime_s: float = Field(90 * 24 * 3600.0, ge=3600, le=3650 * 24 * 3600.0)

    # Loopback status endpoint read by the fleet agent (and automation when enabled).
    status_host: str = "127.0.0.1"
    status_port: int = Field(8600, ge=0, le=65535)
    # The fleet agent's control routes on that endpoint (POST /control/*: maintenance, a
    # screenshot of an idle screen): only with this file, whose content is the bearer token
    # (`KIOSK_CONTROL_TOKEN_FILE`). Unset: those routes answer 404.
    control_token_file: Path | None = None

    # Peripherals: one implementation per kind (real, simulated, absent).
    peripherals: PeripheralSettings = Field(default_factory=PeripheralSettings)
    card_reader: str | None = Field(None, description="substring of the PC/SC reader name")
    # `[peripheral_options.<kind>]` of the device file: keywords for that kind's driver (a
    # serial port and its baud rate, a printer's connection), e.g.
    # `KIOSK_PERIPHERAL_OPTIONS__QR__PORT=/dev/ttyACM0`. Not validated here: each driver
    # validates its own, and one it refuses leaves the kind `driver-unavailable` with the reason.
    peripheral_options: dict[str, dict[str, PeripheralOption]] = Field(default_factory=dict)
    peripheral_stop_timeout_s: float = Field(2.0, gt=0, le=10,
                                             description="how long stopping all may take")
    # Deprecated alias of peripherals.card from before the registry: "pcsc" is "real", "none"
    # is "absent". An explicit peripherals.card wins.
    card_driver: Literal["pcsc", "none"] | None = None

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

    # Voice prompts (kiosk.voice): espeak-ng's Mandarin voice where installed, else silence.
    voice: Literal["espeak", "silent"] = "espeak"
    voice_muted: bool = False
    voice_executable: str = "espeak-ng"
    voice_name: str = Field("cmn", pattern=r"^[a-z][a-z0-9_+-]{0,31}$")
    voice_speed: int = Field(150, ge=80, le=300, description="words per minute")
    # The voice of English prompts, when a citizen switches the screen to English.
    voice_name_en: str = Field("en-us", pattern=r"^[a-z][a-z0-9_+-]{0,31}$")
    voice_volume: int = Field(3, ge=1, le=5, description="the on-screen volume step at start")
    # Normal mode (chosen on the home screen, or the device's theme) starts without voice;
    # elder mode always starts speaking. A citizen can turn it on or off in either.
    voice_normal_muted: bool = False
    # Elder mode waits this much longer before the idle warning, and counts it down longer;
    # idle_timeout_s and idle_warning_s are normal mode's.
    elder_idle_factor: float = Field(1.5, ge=1, le=3)

    # Pension certification (kiosk.flow.journeys.certify): the camera's source for OpenCV (a
    # V4L2 index or path, a file, an MJPEG URL; unset: the driver's default) and the
    # terminal's Ed25519 device key that signs each record (common/signing.py).
    camera_source: str | None = None
    device_key_file: Path | None = None  # unset: <device file's stem>.signing-key.pem beside it
    location: str = Field("hall", min_length=1, max_length=64,
                          description="where this terminal stands, in each signed record")
    certify_step_timeout_s: float = Field(6.0, ge=2, le=30)
    certify_challenges: int = Field(3, ge=2, le=5)

    # -- field mode (kiosk/field, docs/field-mode.md): a staff member logs in and certifies
    # villagers offline against a trip roster held by the terminal's own edge server.
    mode: Literal["hall", "field"] = "hall"
    field_staff_file: Path = Field(Path("/etc/hrss-kiosk/staff.json"),
                                   description="written by `kioskctl provision staff add`")
    # The staff lockout's state (no citizen data); unset: beside the staff file.
    field_lockout_file: Path | None = None
    field_staff_session_s: float = Field(10 * 3600.0, gt=0, le=24 * 3600.0)
    field_staff_idle_s: float = Field(15 * 60.0, gt=0)

    # -- the staff exit (kiosk/ui/staff_exit.py): five taps in the top-left corner, then this
    # PIN, stop the kiosk (exit 0). A salted scrypt hash from `python -m kiosk.ui.staff_exit`,
    # never the PIN; unset (or malformed): no staff exit.
    staff_exit_pin_hash: SecretStr = SecretStr("")
    staff_exit_timeout_s: float = Field(20.0, ge=1, le=300, description="keypad closes itself")
    staff_exit_lockout_s: float = Field(300.0, ge=1, le=24 * 3600.0,
                                        description="after 3 wrong PINs, the gesture is off")

    def resolved_state_dir(self) -> Path | None:
        """`state_dir`, else the folder of the device file read; None without either."""
        if self.state_dir is not None:
            return self.state_dir
        config = type(self)._config_path
        return config.parent if config is not None else None

    def resolved_device_key_file(self) -> Path | None:
        """`device_key_file`, else provisioning's place for it beside the device file."""
        if self.device_key_file is not None:
            return self.device_key_file
        config = type(self)._config_path
        return config.with_name(f"{config.stem}.signing-key.pem") if config is not None else None

    @field_validator("device_id")
    @classmethod
    def _device_id_shape(cls, value: str) -> str:
        return check_device_id(value)

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
    def _card_driver_alias(self) -> Self:
        if self.card_driver is None or "card" in self.peripherals.model_fields_set:
            return self
        log.warning("card_driver is deprecated: use [peripherals] card = \"real\" or \"absent\"")
        card = Impl.REAL if self.card_driver == "pcsc" else Impl.ABSENT
        self.peripherals = self.peripherals.model_copy(update={"card": card})
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
