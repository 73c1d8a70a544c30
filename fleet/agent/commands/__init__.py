"""The agent's command handlers, one module each, and the registry the core dispatches on.

Adding a command: write its module (a handler, see `base.py`), add its name to
`fleet.protocol.KnownCommand` (so managers accept it) and register it below.
"""

from __future__ import annotations

from collections.abc import Mapping

from fleet.agent.commands.base import CommandHandler, ExternalJobHandler, JobHandler
from fleet.agent.commands.cancel_job import CancelJobCommand
from fleet.agent.commands.logs import Logs
from fleet.agent.commands.maintenance import Maintenance
from fleet.agent.commands.ping import Ping
from fleet.agent.commands.rebirth import Rebirth
from fleet.agent.commands.reboot import Reboot
from fleet.agent.commands.report_health import ReportHealth
from fleet.agent.commands.restart_app import RestartApp
from fleet.agent.commands.screenshot import Screenshot
from fleet.agent.commands.set_config import SetConfig
from fleet.agent.commands.update import Rollback, Update
from fleet.agent.commands.wait import Wait


def registry(*handlers: CommandHandler) -> Mapping[str, CommandHandler]:
    names = [h.name for h in handlers]
    if len(set(names)) != len(names):
        raise ValueError(f"a command registered twice: {sorted(names)}")
    return {h.name: h for h in handlers}


COMMANDS: Mapping[str, CommandHandler] = registry(
    Ping(),
    ReportHealth(),
    Wait(),
    CancelJobCommand(),
    Rebirth(),
    Update(),
    Rollback(),
    RestartApp(),
    Reboot(),
    Maintenance(),
    Logs(),
    Screenshot(),
    SetConfig(),
)


def job_handler(handlers: Mapping[str, CommandHandler], name: str) -> JobHandler | None:
    handler = handlers.get(name)
    return handler if handler is not None and hasattr(handler, "step") else None  # type: ignore[return-value]


def external_job_handler(
    handlers: Mapping[str, CommandHandler], name: str
) -> ExternalJobHandler | None:
    handler = handlers.get(name)
    return handler if getattr(handler, "external", False) else None  # type: ignore[return-value]


__all__ = [
    "COMMANDS", "CommandHandler", "ExternalJobHandler", "JobHandler", "external_job_handler",
    "job_handler", "registry",
]
