"""What a command handler is, and what it may ask of the agent core.

A handler is pure: it sees the command and the time, and returns an outcome the core carries
out (answer now, publish health now, start or cancel a job). It never does I/O itself, so the
same handlers run in the agent and in the fleet simulator.

Two kinds of job: a `JobHandler` steps its job from the record alone (`wait`); an
`ExternalJobHandler` only validates and names its job, and the shell does the work (an update
does I/O), reporting back to the core (`AgentCore.job_progress` / `job_finished`), so that
durability, publishing and republication stay in the core for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from fleet.agent.records import JobRecord
from fleet.protocol.messages import Command, CommandStatus


@dataclass(frozen=True)
class Answer:
    status: CommandStatus
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthNow:
    """Publish a health message now; the answer carries its `seq`."""


@dataclass(frozen=True)
class BirthNow:
    """Publish the birth of the current session again; the answer carries its `session_seq`."""


@dataclass(frozen=True)
class StartJob:
    """Start a job under the command's id with these (validated) arguments."""

    args: dict[str, Any]


@dataclass(frozen=True)
class CancelJob:
    job_id: str


Outcome = Answer | HealthNow | BirthNow | StartJob | CancelJob


class BadArgs(ValueError):
    """The command's arguments do not fit the handler; answered `rejected`."""


class CommandHandler(Protocol):
    name: str

    def run(self, command: Command, now: datetime) -> Outcome: ...


@dataclass(frozen=True)
class JobStep:
    """A job's work after `step`: how much is done, and whether it ended."""

    done_s: float
    progress: float
    finished: bool = False
    failed: str = ""  # an error message when the job failed
    output: dict[str, Any] = field(default_factory=dict)


class JobHandler(CommandHandler, Protocol):
    def step(self, job: JobRecord, elapsed_s: float) -> JobStep:
        """Advance `job` by `elapsed_s` seconds of work (pure: from the record alone)."""
        ...


class ExternalJobHandler(CommandHandler, Protocol):
    """A job whose work the shell carries out (`fleet.agent.core.RunJob`). External jobs run one
    at a time (they share the terminal's slots); `cancellable` False: a running one cannot be
    cancelled (a queued one can)."""

    external: bool
    cancellable: bool
