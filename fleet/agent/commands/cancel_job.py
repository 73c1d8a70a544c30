"""`cancel-job`: cancels a queued or running job (`args.job_id`); a finished one stays as it is."""

from __future__ import annotations

from datetime import datetime

from fleet.agent.commands.base import BadArgs, CancelJob, Outcome
from fleet.protocol.messages import Command, KnownCommand


class CancelJobCommand:
    name = KnownCommand.CANCEL_JOB.value

    def run(self, command: Command, now: datetime) -> Outcome:
        job_id = command.args.get("job_id")
        if not isinstance(job_id, str) or not 0 < len(job_id) <= 64:
            raise BadArgs("job_id must be a job's id")
        return CancelJob(job_id)
