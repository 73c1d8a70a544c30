"""The edge server's one settings object: `[device]` and `[edge]` of the device file, `EDGE_*`
environment variables over them (see common/settings.py for the precedence)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import DeviceSettings


class EdgeSettings(DeviceSettings):
    toml_tables: ClassVar[tuple[str, ...]] = ("device", "edge")
    # `[device]` also holds other processes' keys (device id, broker...): ignore what is not ours.
    model_config = SettingsConfigDict(env_prefix="EDGE_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8200, ge=1, le=65535)
    data_dir: Path = Field(Path("var/edge"), description="Default home of database and key.")
    database_url: str = Field("", description="SQLAlchemy URL; default sqlite in data_dir.")
    central_url: str = "http://127.0.0.1:8100"
    central_api_key: SecretStr
    central_timeout_s: float = Field(3.0, gt=0, description="Each connect or read of a call.")
    central_deadline_s: float = Field(5.0, gt=0, description="A whole central call, in all.")
    central_max_answer_bytes: int = Field(1024 * 1024, ge=4096)
    central_max_in_flight: int = Field(16, ge=1, description="More calls fail fast (503).")
    hall_secret: SecretStr = Field(description="The hall's enrolment secret (device tokens).")
    revoked_devices: list[str] = Field(default_factory=list)
    # Hall-secret rotation: tokens signed with these still verify; the edge signs with
    # `hall_secret` only. Remove an old secret once every device has refreshed (edge-api.md).
    previous_hall_secrets: list[SecretStr] = Field(default_factory=list)
    # dev1 tokens (previous release) never expire; accepted only while a hall migrates.
    accept_dev1_tokens: bool = False
    device_token_ttl_s: int = Field(90 * 24 * 3600, ge=3600, le=3650 * 24 * 3600)
    # Identify (POST /sessions) token buckets; failures cost more than successes.
    identify_device_burst: float = Field(20.0, ge=1)
    identify_device_per_s: float = Field(0.2, gt=0)
    identify_hall_burst: float = Field(300.0, ge=1)
    identify_hall_per_s: float = Field(5.0, gt=0)
    identify_failure_cost: float = Field(5.0, ge=1)
    data_key_file: Path | None = Field(None, description="32-byte key; default in data_dir.")
    cache_ttl_s: int = Field(300, ge=0)
    cache_max_stale_s: int = Field(7 * 24 * 3600, ge=0)
    session_ttl_s: int = Field(900, gt=0)
    idempotency_ttl_s: int = Field(86400, gt=0)
    # Not in the contract; operational knobs with safe defaults.
    central_probe_interval_s: float = Field(15.0, gt=0)
    central_retry_after_s: int = Field(30, ge=1)
    purge_interval_s: float = Field(300.0, gt=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    log_level: str = "INFO"
    # -- cards and subsidies
    # The card blacklist feed (central 1.5): pulled every interval, a page of up to this many
    # changes per call, at most this many pages per pull (the rest next time).
    blacklist_interval_s: float = Field(300.0, gt=0)
    blacklist_page_limit: int = Field(1000, ge=1, le=5000)
    blacklist_max_pages: int = Field(20, ge=1)
    # Service-PIN attempts (loss report and its reversal): buckets per citizen and per device;
    # central also locks a PIN after its own count of wrong ones.
    pin_citizen_burst: float = Field(5.0, ge=1)
    pin_citizen_per_s: float = Field(1 / 600, gt=0)
    pin_device_burst: float = Field(20.0, ge=1)
    pin_device_per_s: float = Field(1 / 30, gt=0)
    # -- outbox
    # Pending + sending items at most: beyond it submissions are refused (503), never dropped.
    outbox_max_pending: int = Field(100_000, ge=1)
    outbox_batch_size: int = Field(100, ge=1, le=100)  # central takes 1..100 per call
    # How long an apply waits for "sent" before answering "queued"; 0: answer at once.
    outbox_sync_wait_s: float = Field(2.0, ge=0, le=30)
    # A claimed batch is resent after this when its sender died; longer than a central call.
    outbox_lease_s: float = Field(30.0, gt=0)
    outbox_poll_interval_s: float = Field(5.0, gt=0)
    outbox_backoff_initial_s: float = Field(1.0, gt=0)
    # Each retry of a down platform is one cheap call; central's recovery also ends the wait.
    outbox_backoff_max_s: float = Field(15.0, gt=0)
    # Operators' outbox routes (Bearer); unset: those routes answer 404.
    operator_api_key: SecretStr | None = None
    # -- pension qualification certification (issue 7)
    # Evidence frames (sealed) are kept this long for disputes, then purged by maintenance.
    certification_evidence_retention_days: int = Field(90, ge=1, le=3650)
    # The one route that takes evidence (up to 8 JPEG frames of 200 KB, base64: 2.13 MB) may
    # send this much; every other route keeps max_body_bytes.
    certification_max_body_bytes: int = Field(2_359_296, ge=64 * 1024, le=16 * 1024 * 1024)
    # Second judgements (dlib, CPU-bound) at once per process, and how long a request waits
    # for its turn before 503 judge-busy.
    certification_judge_concurrency: int = Field(1, ge=1, le=16)
    certification_judge_wait_s: float = Field(20.0, gt=0, le=120)
    # How old a terminal's certified_at may be when it reaches the edge (clock skew: 10 min
    # ahead at most).
    certification_record_max_age_s: int = Field(3600, ge=60)
    # -- field mode (a field terminal's own edge, docs/field-mode.md)
    # On: /api/v1/field routes exist, and sessions open from the trip roster offline.
    field_mode: bool = False
    # A prepared trip's roster (sealed templates) is refused and purged after this.
    field_roster_ttl_s: int = Field(36 * 3600, ge=60, le=14 * 24 * 3600)
    field_roster_max_entries: int = Field(2000, ge=1, le=20_000)
    field_roster_page_size: int = Field(100, ge=1, le=200)
    # -- certificates (参保证明, 个人权益记录: docs/certificates.md)
    # The office's signing key and certificate and the province root (provisioning's CA:
    # `kioskctl provision ca issue-office`). All unset: a development CA is made once in
    # `<dir of data_key_file>/certificates/`; any one set: all must exist.
    certificate_office_key_file: Path | None = None
    certificate_office_cert_file: Path | None = None
    certificate_root_file: Path | None = None
    # The public base of verify URLs (QR codes); default http://host:port.
    certificate_verify_base_url: str = Field("", max_length=200)
    certificate_font_file: Path = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    # POST /verify/pdf takes a PDF of at most this many bytes.
    certificate_verify_max_pdf_bytes: int = Field(5 * 1024 * 1024, ge=64 * 1024,
                                                  le=32 * 1024 * 1024)
    # The download link behind the kiosk's on-screen QR code works this long after issue.
    certificate_download_ttl_s: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)
    # Issued certificates (sealed content and PDF) are kept this long for verification by code,
    # then purged (services/certificates.purge); the PDF still verifies by its signature.
    certificate_retention_days: int = Field(400, ge=1, le=3650)

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'edge.db'}"
        if self.data_key_file is None:
            self.data_key_file = self.data_dir / "data.key"
        for name in ("hall_secret", "central_api_key"):
            if not getattr(self, name).get_secret_value():
                raise ValueError(f"{name} must not be empty")
        return self

    @property
    def key_file(self) -> Path:
        assert self.data_key_file is not None  # set by the validator
        return self.data_key_file
