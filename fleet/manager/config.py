"""Desired configuration: validated against the allow-list (`fleet.protocol.ConfigValues`),
stored as a new revision with its `set-config` command, sent at once when the terminal is
online and otherwise after its next birth (the command service re-sends unanswered commands);
a birth that reports an older revision than desired, with no set-config on its way any more
(expired while the terminal was away, or its state directory lost), gets a new one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from common.clock import utc_now
from common.problem import Problem
from fleet.manager.commands import CommandService
from fleet.manager.models import DeviceConfig
from fleet.manager.registry import Registry
from fleet.manager.registry.config import SET_CONFIG, set_config_command
from fleet.protocol.messages import CONFIG_KEYS, ConfigValues

log = logging.getLogger(__name__)

#: A set-config waits this long for its terminal (the longest command TTL); past it, the
#: terminal's next birth gets a new one.
SET_CONFIG_TTL_S = 7 * 24 * 3600


def check_desired(values: Mapping[str, Any]) -> dict[str, Any]:
    """The desired values, each checked alone; a 422 naming every bad key and why."""
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            errors[key[:64]] = f"not a setting terminals take (allowed: {', '.join(CONFIG_KEYS)})"
            continue
        try:
            one = ConfigValues.model_validate({key: value})
        except ValidationError as exc:
            errors[key] = exc.errors()[0]["msg"][:200]
            continue
        if getattr(one, key) is None:
            errors[key] = "null is not a value (leave the key out for the provisioned one)"
            continue
        checked[key] = one.model_dump(mode="json")[key]
    if errors:
        raise Problem(422, "config-invalid", "Some desired values are refused",
                      detail="; ".join(f"{k}: {v}" for k, v in sorted(errors.items())),
                      errors=errors)
    return checked


def drift(config: DeviceConfig) -> list[str]:
    """Desired keys whose reported value differs (all of them while nothing is reported)."""
    reported = config.reported or {}
    return sorted(k for k, v in config.desired.items() if reported.get(k) != v)


class ConfigService:
    def __init__(self, registry: Registry, commands: CommandService) -> None:
        self._registry = registry
        self._commands = commands
        # Births are reconciled off the ingest thread (a re-issue waits for the broker).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-config")

    def stop(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def set_desired(
        self, device_id: str, values: Mapping[str, Any], base_revision: int | None
    ) -> DeviceConfig:
        desired = check_desired(values)
        if self._registry.get_device(device_id) is None:
            raise Problem(404, "device-not-found", "No such device")
        try:
            stored = self._registry.set_desired(device_id, desired, base_revision,
                                                SET_CONFIG_TTL_S)
        except IntegrityError:  # another manager stored the same revision at this moment
            stored = None
        if stored is None:
            raise Problem(409, "config-changed",
                          "The desired configuration changed meanwhile; read it and try again")
        config, command = stored
        log.info("%s: desired configuration revision %d (%s)", device_id, config.revision,
                 ", ".join(sorted(desired)) or "provisioned values")
        self._commands.publish_stored([command])  # offline: re-sent after the next birth
        return config

    def reconcile(self, device_ids: Sequence[str]) -> None:
        """After accepted births (the ingest thread): queue the check, return at once."""
        with contextlib.suppress(RuntimeError):  # raised only while shutting down
            self._worker.submit(self._reconcile, list(device_ids))

    def _reconcile(self, device_ids: list[str]) -> None:
        try:
            now = utc_now()
            behind = self._registry.configs_behind(device_ids, now)
            records = []
            for config in behind:
                key = f"{SET_CONFIG}-{config.revision}-{int(now.timestamp() * 1000)}"
                record = set_config_command(config.device_id, config.revision,
                                            config.desired, now, SET_CONFIG_TTL_S, key)
                try:
                    self._registry.insert_command(record)
                except IntegrityError:
                    continue
                log.info("%s reports configuration revision %s, desired %d: sending it again",
                         config.device_id, config.reported_revision, config.revision)
                records.append(record)
            if records:
                self._commands.publish_stored(records)
        except Exception:
            log.exception("reconciling configurations failed")
