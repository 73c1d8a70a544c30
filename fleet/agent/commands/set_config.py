"""`set-config`: the manager's desired configuration for this terminal (args `{revision, values}`;
docs/contracts/fleet-mqtt.md, "Configuration").

Each value is validated alone (`fleet.protocol.ConfigValues`): a bad one is refused with its
reason and the others are applied. A revision no newer than the one running changes nothing (a
late or superseded command). The core keeps the running `RunningConfig`; the shell persists it
(`ConfigStore`, before applying it) and applies what it can live.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from common.files import write_atomically
from fleet.agent.commands.base import BadArgs
from fleet.protocol.limits import MAX_COUNTER
from fleet.protocol.messages import (
    CONFIG_KEYS,
    Command,
    ConfigValues,
    KnownCommand,
    ReportedConfig,
)

if TYPE_CHECKING:
    from fleet.agent.settings import AgentSettings
    from fleet.agent.update.runner import UpdateRunner

log = logging.getLogger(__name__)

#: More keys than a newer manager could ever send (four today).
MAX_CONFIG_KEYS = 32
MAX_KEY_LEN = 64


@dataclass(frozen=True)
class ConfigChange:
    """Outcome of `set-config`: make `revision` (with the `accepted` values) the one running."""

    revision: int
    accepted: dict[str, Any]
    refused: dict[str, str]


@dataclass(frozen=True)
class RunningConfig:
    """The desired values of the newest revision accepted, over the provisioned defaults."""

    revision: int = 0
    desired: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Any]:
        return {**self.defaults, **self.desired}

    def report(self) -> ReportedConfig:
        return ReportedConfig(revision=self.revision,
                              values={k: v for k, v in self.values.items() if v is not None})

    def report_json(self) -> dict[str, Any]:
        return self.report().model_dump(mode="json")


def check_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(accepted, refused with the reason): each key alone, strictly (a string is not a
    number, null is not a value)."""
    accepted: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for key, value in values.items():
        name = str(key)[:MAX_KEY_LEN]
        if name not in CONFIG_KEYS:
            refused[name] = "not a setting this agent applies"
            continue
        if value is None:
            refused[name] = "null is not a value"
            continue
        try:
            checked = ConfigValues.model_validate({name: value})
        except ValidationError as exc:
            refused[name] = exc.errors()[0]["msg"][:200]
            continue
        accepted[name] = getattr(checked, name)
    return accepted, refused


class SetConfig:
    name = KnownCommand.SET_CONFIG.value

    def run(self, command: Command, now: datetime) -> ConfigChange:
        args = command.args
        revision = args.get("revision")
        # bool is an int in Python; it is not a revision.
        if not isinstance(revision, int) or isinstance(revision, bool) \
                or not 1 <= revision <= MAX_COUNTER:
            raise BadArgs(f"revision must be an integer from 1 to {MAX_COUNTER}")
        values = args.get("values")
        if not isinstance(values, dict) or len(values) > MAX_CONFIG_KEYS:
            raise BadArgs(f"values must be an object of at most {MAX_CONFIG_KEYS} settings")
        accepted, refused = check_values(values)
        return ConfigChange(revision, accepted, refused)


# -- the shell's side: the state directory ---------------------------------------------------


class ConfigStore:
    """`config.json` in the state directory: the revision running and its desired values,
    replaced atomically, never by an older revision (two writers, or a bug upstream)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "config.json"

    def load(self) -> tuple[int, dict[str, Any]]:
        """(revision, desired values), each value checked again (a newer agent's file, an
        edit); (0, {}) when there is none or it is unreadable."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0, {}
        except (OSError, ValueError, RecursionError):
            log.warning("unreadable %s; running the provisioned configuration", self.path)
            return 0, {}
        revision = raw.get("revision") if isinstance(raw, dict) else None
        values = raw.get("values") if isinstance(raw, dict) else None
        if not isinstance(revision, int) or isinstance(revision, bool) \
                or not 0 <= revision <= MAX_COUNTER or not isinstance(values, dict):
            log.warning("%s does not hold a configuration; ignoring it", self.path)
            return 0, {}
        accepted, refused = check_values(values)
        if refused:
            log.warning("%s: values dropped: %s", self.path, ", ".join(sorted(refused)))
        return revision, accepted

    def save(self, revision: int, desired: Mapping[str, Any]) -> bool:
        """False (and nothing written) when the file holds a newer revision or cannot be
        written; the agent then runs the new values from memory."""
        on_disk, _ = self.load()
        if on_disk > revision:
            log.warning("not saving configuration revision %d over %d", revision, on_disk)
            return False
        try:
            write_atomically(self.path, json.dumps({"revision": revision,
                                                    "values": dict(desired)}))
        except OSError:
            log.warning("cannot save %s", self.path, exc_info=True)
            return False
        return True


def config_defaults(settings: AgentSettings) -> dict[str, Any]:
    """The provisioned values of the settings `set-config` may change (what a key no longer
    desired goes back to)."""
    level = settings.log_level.upper()
    defaults: dict[str, Any] = {
        "health_interval_s": settings.health_interval_s,
        "commit_deadline_s": settings.commit_deadline_s,
        "log_level": level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else None,
        "maintenance_window": settings.maintenance_window,
    }
    return {k: v for k, v in defaults.items() if v is not None}


def apply_live(config: RunningConfig, updates: UpdateRunner) -> None:
    """Make the running process follow `config`: the log level, and the update runner's window
    and commit deadline (read by each phase; an update under way keeps the deadline it set at
    its switch). The health interval needs nothing: the agent asks the core before each wait."""
    from dataclasses import replace

    from fleet.agent.update.health import Window

    values = config.values
    if "log_level" in values:
        logging.getLogger().setLevel(values["log_level"])
    window = values.get("maintenance_window")
    updates.config = replace(
        updates.config, window=Window.parse(window) if window else None,
        commit_deadline_s=values.get("commit_deadline_s", updates.config.commit_deadline_s))
