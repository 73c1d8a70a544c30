"""`rebirth`: publishes the birth of the current session again (a manager lost it)."""

from __future__ import annotations

from datetime import datetime

from fleet.agent.commands.base import BirthNow, Outcome
from fleet.protocol.messages import Command, KnownCommand


class Rebirth:
    name = KnownCommand.REBIRTH.value

    def run(self, command: Command, now: datetime) -> Outcome:
        return BirthNow()
