"""`wait`: a harmless long job. Waits `seconds` (0.1-3600) of agent run time, reporting progress;
`fail_at` (a fraction) makes it fail there instead, to exercise the failure path. It proves the
job path (queued → running → succeeded/failed/cancelled, durable across restarts) that updates
will take."""

from __future__ import annotations

from datetime import datetime

from fleet.agent.commands.base import BadArgs, JobStep, Outcome, StartJob
from fleet.agent.records import JobRecord
from fleet.protocol.messages import Command, KnownCommand

MAX_WAIT_S = 3600.0


def _fraction(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BadArgs(f"{what} must be a number from 0 to 1")
    return float(value)


class Wait:
    name = KnownCommand.WAIT.value

    def run(self, command: Command, now: datetime) -> Outcome:
        seconds = command.args.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not 0.1 <= seconds <= MAX_WAIT_S:
            raise BadArgs(f"seconds must be a number from 0.1 to {MAX_WAIT_S:g}")
        args: dict[str, object] = {"seconds": float(seconds)}
        fail_at = _fraction(command.args.get("fail_at"), "fail_at")
        if fail_at is not None:
            args["fail_at"] = fail_at
        return StartJob(args)

    def step(self, job: JobRecord, elapsed_s: float) -> JobStep:
        seconds = float(job.args["seconds"])
        done = min(seconds, job.done_s + max(0.0, elapsed_s))
        progress = done / seconds
        fail_at = job.args.get("fail_at")
        if isinstance(fail_at, float) and progress >= fail_at:
            return JobStep(done, fail_at, finished=True, failed="asked to fail")
        if done >= seconds:
            return JobStep(done, 1.0, finished=True, output={"waited_s": seconds})
        return JobStep(done, progress)
