"""`report-health`: publishes a health message now; the answer carries its `seq`."""

from __future__ import annotations

from datetime import datetime

from fleet.agent.commands.base import HealthNow, Outcome
from fleet.protocol.messages import Command, KnownCommand


class ReportHealth:
    name = KnownCommand.REPORT_HEALTH.value

    def run(self, command: Command, now: datetime) -> Outcome:
        return HealthNow()
