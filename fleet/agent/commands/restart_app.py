"""`restart-app`: runs the agent's configured restart command (`restart_command`, the one the
update runner uses) within `restart_timeout_s`; answers `{"exit_status": n}` (`error` when it is
not 0, did not end in time, or could not start). No arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.agent.commands.base import Outcome
from fleet.agent.commands.shell_work import answer_from_work, no_args
from fleet.protocol.messages import Command, KnownCommand


class RestartApp:
    name = KnownCommand.RESTART_APP.value
    shell_work = True

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        return no_args(args)

    def run(self, command: Command, now: datetime) -> Outcome:
        return answer_from_work(self, command)
