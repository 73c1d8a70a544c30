"""Driving one shell-worked command: through the core (pure), and through `ShellCommands`
(the shell's work, run inline) against a stub kiosk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.agent.commands import COMMANDS
from fleet.agent.commands.shell_work import WORK_KEY
from fleet.agent.core import AgentCore, Identity, Publish, RecordAnswer
from fleet.agent.settings import AgentSettings
from fleet.agent.shell_commands import ShellCommands, Worked
from fleet.protocol import Command, CommandResult, decode, encode
from tests.fleet.agent.control_stub import StubKiosk, write_token

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
IDENT = Identity(device_id="T-1", site="hall-1", hostname="kiosk-1", agent_version="1.0.0",
                 health_interval_s=30)


def command(name: str, cid: str = "c1", ttl_s: float = 60, **args: Any) -> Command:
    return Command(device_id="T-1", id=cid, name=name, args=args,
                   expires_at=T0 + timedelta(seconds=ttl_s))


def answer(payload: bytes) -> CommandResult:
    """What the core answers `payload` with (recorded first, then published)."""
    core = AgentCore(IDENT)
    core.connecting(1)
    core.connected("2.0.0", T0)
    effects = core.command(payload, T0, lambda _id: None)
    assert isinstance(effects[-2], RecordAnswer)
    last = effects[-1]
    assert isinstance(last, Publish)
    result = decode(last.payload)
    assert isinstance(result, CommandResult)
    return result


def with_work(cmd: Command, work: dict[str, Any]) -> bytes:
    return encode(cmd.model_copy(update={"args": {**cmd.args, WORK_KEY: work}}))


def settings_for(tmp_path: Path, kiosk: StubKiosk, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "device_id": "T-1", "broker_url": "mqtt://127.0.0.1:1", "state_dir": tmp_path / "state",
        "kiosk_status_url": kiosk.url, "kiosk_timeout_s": 2.0,
        "kiosk_control_token_file": write_token(tmp_path), "kiosk_control_timeout_s": 5.0,
        **overrides,
    }
    return AgentSettings(**values)


def shell(settings: AgentSettings) -> tuple[ShellCommands, list[Worked]]:
    worked: list[Worked] = []
    return ShellCommands(settings, COMMANDS, lambda _id: None, worked.append,
                         lambda: T0), worked


def work(settings: AgentSettings, cmd: Command) -> CommandResult:
    """The shell's work for `cmd`, then the core's answer from it (as the agent does)."""
    sc, _ = shell(settings)
    args = sc._runnable(cmd, COMMANDS[cmd.name])
    assert args is not None, "the shell would not run it"
    result = sc.run(cmd, args)
    assert result is not None
    return answer(with_work(cmd, result))
