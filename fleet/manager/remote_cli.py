"""`kioskctl fleet remote …`: send one remote command to a terminal through the manager's REST
API (`POST /devices/{id}/commands`), wait for its answer (`GET /commands/{id}`) and print it.
Only typer at module level (`kioskctl --help` stays light)."""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.manager.cli_http import DEFAULT_MANAGER, ManagerOption
from fleet.manager.cli_http import call as _call

remote_app = typer.Typer(
    help="Remote commands to one terminal: restart-app, reboot, maintenance, logs, screenshot "
    "(docs/fleet.md, Remote commands). Exit 0 ok, 1 refused or failed, 3 no answer in time.",
    no_args_is_help=True,
)

TtlOption = Annotated[int, typer.Option("--ttl", min=1, max=7 * 24 * 3600,
                                        help="The command's time to live, s (a terminal that "
                                        "is away gets it if it is back in time).")]
WaitOption = Annotated[float, typer.Option("--wait", min=0,
                                           help="How long to wait for the answer, s.")]
KeyOption = Annotated[str | None, typer.Option("--key", help="Idempotency-Key (retry safely).")]
POLL_S = 0.5
#: Manager states that are not (yet) the agent's answer.
_WAITING = {"pending", "sent"}




def send(manager: str, device_id: str, name: str, args: dict[str, Any], ttl: int, wait: float,
         key: str | None) -> dict[str, Any]:
    """Issue the command and wait up to `wait` s for its answer; exits 3 without one and 1 on
    anything but `ok` (printing the agent's error)."""
    command = _call("POST", f"{manager}/api/v1/devices/{device_id}/commands",
                    json={"name": name, "args": args, "ttl_s": ttl},
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})
    deadline = time.monotonic() + wait
    while command["status"] in _WAITING and time.monotonic() < deadline:
        time.sleep(POLL_S)
        command = _call("GET", f"{manager}/api/v1/commands/{command['id']}")
    status = command["status"]
    if status in _WAITING:
        typer.echo(f"no answer yet: command {command['id']} is {status} (expires "
                   f"{command['expires_at']}); see GET /api/v1/commands/{command['id']}",
                   err=True)
        raise typer.Exit(3)
    if status != "ok":
        output = command.get("output") or {}
        typer.echo(f"{name} {status}: {json.dumps(output, ensure_ascii=False)}", err=True)
        raise typer.Exit(1)
    return dict(command.get("output") or {})


@remote_app.command("restart-app")
def restart_app(device_id: str, ttl: TtlOption = 60, wait: WaitOption = 90.0,
                key: KeyOption = None, manager: ManagerOption = DEFAULT_MANAGER) -> None:
    """Restart the kiosk app (the terminal's configured restart command)."""
    out = send(manager, device_id, "restart-app", {}, ttl, wait, key)
    typer.echo(f"restarted (exit status {out.get('exit_status')})")


@remote_app.command("reboot")
def reboot(
    device_id: str,
    force: Annotated[bool, typer.Option(help="Also when the kiosk does not answer (a session "
                                        "it reports still refuses it).")] = False,
    ttl: TtlOption = 60, wait: WaitOption = 60.0, key: KeyOption = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Reboot the terminal; refused ("session-active") while a citizen is being served."""
    send(manager, device_id, "reboot", {"force": force} if force else {}, ttl, wait, key)
    typer.echo("rebooting")


@remote_app.command("maintenance")
def maintenance(
    device_id: str,
    on: Annotated[bool, typer.Option("--on/--off", help="Show or stop showing the screen.")],
    reason: Annotated[str, typer.Option(help="Why (at most 200 characters).")] = "",
    ttl: TtlOption = 60, wait: WaitOption = 30.0, key: KeyOption = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Show (--on) or stop showing (--off) "temporarily out of service" on the kiosk."""
    out = send(manager, device_id, "maintenance", {"on": on, "reason": reason}, ttl, wait, key)
    state = "on" if out.get("on") else "off"
    typer.echo(f"maintenance {state}" + (" (pending: shown once the current session ends)"
                                         if out.get("pending") else ""))


@remote_app.command("logs")
def logs(
    device_id: str,
    source: Annotated[str, typer.Option(help="agent or kiosk.")] = "kiosk",
    lines: Annotated[int, typer.Option(min=1, max=500)] = 100,
    ttl: TtlOption = 60, wait: WaitOption = 30.0, key: KeyOption = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Print the last lines of the terminal's agent or kiosk log (masked, at most 48 KiB)."""
    out = send(manager, device_id, "logs", {"source": source, "lines": lines}, ttl, wait, key)
    for line in out.get("lines", []):
        typer.echo(line)
    if out.get("truncated"):
        typer.echo("(truncated: fewer or shorter lines than asked, to fit one answer)", err=True)


@remote_app.command("screenshot")
def screenshot(
    device_id: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the PNG.", dir_okay=False)],
    ttl: TtlOption = 60, wait: WaitOption = 30.0, key: KeyOption = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Save the kiosk's screen as a PNG (refused during a citizen session)."""
    result = send(manager, device_id, "screenshot", {}, ttl, wait, key)
    try:
        png = base64.b64decode(str(result.get("png_b64", "")), validate=True)
    except (binascii.Error, ValueError):
        typer.echo("error: the answer holds no PNG", err=True)
        raise typer.Exit(1) from None
    out.write_bytes(png)
    typer.echo(f"{out}: {result.get('width')}x{result.get('height')} PNG, {len(png)} bytes")


commands_app = typer.Typer(
    help="Any command to one terminal, by name (docs/contracts/fleet-mqtt.md, Commands), and a "
    "command read back by id. Exit 0 ok, 1 refused or failed, 3 no answer in time.",
    no_args_is_help=True,
)


@commands_app.command("send")
def send_command(
    device_id: Annotated[str, typer.Argument(help="The terminal's id.")],
    name: Annotated[str, typer.Argument(help="The command, e.g. ping, report-health.")],
    arg: Annotated[list[str] | None, typer.Option(
        "--arg", help="key=value (repeatable; the value is JSON when it parses).")] = None,
    ttl: TtlOption = 300, wait: WaitOption = 30.0, key: KeyOption = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Send a command and print the terminal's answer (its output, as JSON)."""
    from fleet.manager.devices_cli import parse_assignment

    args = dict(parse_assignment(a) for a in arg or [])
    out = send(manager.rstrip("/"), device_id, name, args, ttl, wait, key)
    typer.echo(json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False))


@commands_app.command("show")
def show_command(
    command_id: Annotated[str, typer.Argument(help="The id `send` or the REST API gave.")],
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """A command's state (pending, sent, timed-out, or the terminal's answer), as JSON."""
    command = _call("GET", f"{manager.rstrip('/')}/api/v1/commands/{command_id}")
    typer.echo(json.dumps(command, indent=2, sort_keys=True, ensure_ascii=False))
