"""`ping`: answers `{"pong": true}`; proves the command path end to end."""

from __future__ import annotations

from datetime import datetime

from fleet.agent.commands.base import Answer, Outcome
from fleet.protocol.messages import Command, CommandStatus, KnownCommand


class Ping:
    name = KnownCommand.PING.value

    def run(self, command: Command, now: datetime) -> Outcome:
        return Answer(CommandStatus.OK, {"pong": True})
