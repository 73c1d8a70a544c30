"""Settings shared by the fleet agent and the fleet manager: how to reach the broker."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator

from common.settings import DeviceSettings
from fleet.mqtt import BrokerAddress, MqttError, TlsFiles


class BrokerSettings(DeviceSettings):
    """The broker URL, keepalive, TLS files and log level; each process's settings add their own
    fields, tables and environment prefix."""

    broker_url: str = "mqtt://127.0.0.1:1883"
    keepalive_s: int = Field(30, ge=5)
    # CA bundle to verify an `mqtts://` broker (else the system's), and the client certificate.
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

    @model_validator(mode="after")
    def _tls_files_fit(self) -> Self:
        # Otherwise files would be ignored: a connection silently in plain text, or without the
        # client certificate the operator configured.
        if self.tls_files() is not None and not self.broker().tls:
            raise ValueError("TLS files are set but broker_url is not mqtts://")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    def broker(self) -> BrokerAddress:
        return BrokerAddress.parse(self.broker_url)

    def tls_files(self) -> TlsFiles | None:
        if not (self.tls_ca_file or self.tls_cert_file or self.tls_key_file):
            return None
        return TlsFiles(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
