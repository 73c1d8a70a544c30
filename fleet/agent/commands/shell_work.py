"""Commands whose work the shell does before the core answers (restart-app, reboot,
maintenance, logs, screenshot): their result is the answer itself, not a job's.

The handler stays pure. The shell (`fleet.agent.shell_commands`) validates the arguments with
`parse`, does the bounded work off the main thread, and hands the command back to the core with
the work's result under `args[WORK_KEY]`; `run` then answers from it, so recording the answer
before it goes out and repeating it on a redelivery stay the core's. The shell strips WORK_KEY
from every command it receives, so a manager cannot supply a result. Without a shell that does
the work (the fleet simulator), `run` answers `error`.
"""

from __future__ import annotations

from typing import Any, Protocol

from fleet.agent.commands.base import Answer, BadArgs, Outcome
from fleet.protocol.messages import Command, CommandStatus

#: Where the shell puts the work's result: {"status": "ok"|"error", "output": {...}}.
WORK_KEY = "_shell_work"


class ShellCommandHandler(Protocol):
    name: str
    shell_work: bool

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        """The validated arguments the shell works from; BadArgs when they do not fit."""
        ...

    def run(self, command: Command, now: Any) -> Outcome: ...


def is_shell_command(handler: object) -> bool:
    return bool(getattr(handler, "shell_work", False))


def without_work(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k != WORK_KEY}


def answer_from_work(handler: ShellCommandHandler, command: Command) -> Outcome:
    handler.parse(without_work(command.args))  # BadArgs: answered `rejected`, nothing ran
    work = command.args.get(WORK_KEY)
    if not isinstance(work, dict) or work.get("status") not in ("ok", "error") \
            or not isinstance(work.get("output"), dict):
        return Answer(CommandStatus.ERROR, {"error": "this agent cannot run it"})
    return Answer(CommandStatus(work["status"]), dict(work["output"]))


def no_args(args: dict[str, Any]) -> dict[str, Any]:
    if args:
        raise BadArgs(f"takes no arguments (got {', '.join(sorted(args))[:100]})")
    return {}
