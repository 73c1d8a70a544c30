"""`update` and `rollback`: A/B updates of the terminal's slots, as external jobs.

The handlers only validate the arguments (docs/contracts/fleet-mqtt.md, "Updates"); the shell's
update runner (`fleet.agent.update.runner`) does the work and reports each phase to the core.
The repository's URL and the trusted root come from the agent's settings, never from a command.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fleet.agent.commands.base import BadArgs, Outcome, StartJob
from fleet.protocol.limits import MAX_VERSION_LEN
from fleet.protocol.messages import Command, KnownCommand

#: A TUF target path: relative, plain segments (the repository decides whether it exists).
_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_TARGET_LEN = 255
#: As the kiosk status contract's app_version (a slot's VERSION file is checked the same way).
VERSION_PATTERN = re.compile(rf"^[0-9A-Za-z][0-9A-Za-z.+!_-]{{0,{MAX_VERSION_LEN - 1}}}$")
_ROLLOUT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _version(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not VERSION_PATTERN.match(value):
        raise BadArgs(f"{key} must be a version (1-{MAX_VERSION_LEN} of [0-9A-Za-z.+!_-])")
    return value


def _rollout_id(args: dict[str, Any]) -> dict[str, str]:
    value = args.get("rollout_id")
    if value is None:
        return {}
    if not isinstance(value, str) or not _ROLLOUT.match(value):
        raise BadArgs("rollout_id must be an id (1-64 of [A-Za-z0-9_.:-])")
    return {"rollout_id": value}


class Update:
    name = KnownCommand.UPDATE.value
    external = True
    cancellable = False  # past the switch only the health gate or a rollback may undo it

    def run(self, command: Command, now: datetime) -> Outcome:
        args = command.args
        target = args.get("target")
        if not isinstance(target, str) or len(target) > MAX_TARGET_LEN \
                or not _TARGET.match(target) or ".." in target.split("/"):
            raise BadArgs("target must be a relative TUF target path")
        force = args.get("force", False)
        if not isinstance(force, bool):
            raise BadArgs("force must be true or false")
        return StartJob({"target": target, "version": _version(args, "version"),
                         "force": force, **_rollout_id(args)})


class Rollback:
    name = KnownCommand.ROLLBACK.value
    external = True
    cancellable = False

    def run(self, command: Command, now: datetime) -> Outcome:
        args = command.args
        return StartJob({"to_version": _version(args, "to_version"), **_rollout_id(args)})
