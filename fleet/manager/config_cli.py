"""`kioskctl fleet devices config T-0001 [--set key=value ...] [--unset key ...]`: a terminal's
desired and reported configuration, a client of the manager's REST API. Changes are merged into
the current desired configuration and sent with its revision (a change made meanwhile by
someone else is refused, not overwritten). Only typer at module level (`kioskctl --help`
stays light)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from fleet.manager.rollouts.cli import DEFAULT_MANAGER, ManagerOption, _call

devices_app = typer.Typer(help="Terminals known to the manager (docs/fleet.md).",
                          no_args_is_help=True)


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value`; the value is JSON when it parses (30, 1.5, null), else the text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r} is not key=value")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def _show(config: dict[str, Any]) -> str:
    reported = config.get("reported")
    lines = [
        f"{config['device_id']}  revision {config['revision']}  "
        + ("in sync" if config["in_sync"] else "drift: " + (", ".join(config["drift"]) or "-")),
        "desired:  " + json.dumps(config["desired"], sort_keys=True),
        ("reported: revision " + str(reported["revision"]) + " "
         + json.dumps(reported["values"], sort_keys=True)) if reported else "reported: -",
    ]
    lines += [f"refused:  {k}: {v}" for k, v in sorted(config.get("refused", {}).items())]
    return "\n".join(lines)


@devices_app.command("config")
def config(
    device_id: Annotated[str, typer.Argument(help="The terminal's id, e.g. T-0001.")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="key=value to desire (repeatable): health_interval_s, "
        "maintenance_window (HH:MM-HH:MM), log_level, commit_deadline_s.")] = None,
    unset: Annotated[list[str] | None, typer.Option(
        "--unset", help="A key to stop desiring (the terminal goes back to its provisioned "
        "value); repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer.")] = False,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Show a terminal's configuration (desired, reported, drift), or change what is desired."""
    url = f"{manager.rstrip('/')}/api/v1/devices/{device_id}/config"
    current = _call("GET", url)
    if set_ or unset:
        desired = dict(current["desired"])
        for key in unset or []:
            desired.pop(key, None)
        desired.update(parse_assignment(a) for a in set_ or [])
        current = _call("PUT", url, json={"desired": desired,
                                          "base_revision": current["revision"]})
    typer.echo(json.dumps(current, indent=2, sort_keys=True) if as_json else _show(current))
