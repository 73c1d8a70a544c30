"""`kioskctl fleet devices list|show|labels|config`: the terminals the manager knows, a client
of its REST API.

`config T-0001 [--set key=value ...] [--unset key ...]` shows and changes a terminal's desired
configuration beside what it reports. Changes are merged into the current desired configuration
and sent with its revision (a change made meanwhile by someone else is refused, not
overwritten). Only typer at module level (`kioskctl --help` stays light)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from fleet.manager.cli_http import DEFAULT_MANAGER, ManagerOption
from fleet.manager.cli_http import call as _call

devices_app = typer.Typer(help="Terminals known to the manager (docs/fleet.md).",
                          no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON answer.")]
PAGE = 1000  # the REST API's largest page


def _problems(device: dict[str, Any]) -> str:
    """What an operator looks at first: peripherals not ok, the edge, maintenance."""
    health = device.get("health") or {}
    out = [f"{name}:{p.get('code') or p.get('state')}"
           for name, p in sorted((health.get("peripherals") or {}).items())
           if isinstance(p, dict) and p.get("state") != "ok"]
    if device.get("edge_reachable") is False:
        out.append("edge:unreachable")
    if (device.get("maintenance") or {}).get("on"):
        out.append("maintenance")
    return ",".join(out) or "-"


def _row(device: dict[str, Any]) -> str:
    return (f"{device['id']:<16} {'online' if device['online'] else 'offline':<8} "
            f"{device.get('site') or '-':<14} {device.get('app_version') or '-':<10} "
            f"{device['last_seen'][:19]:<19}  {_problems(device)}")


@devices_app.command("list")
def list_devices(
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    online: Annotated[bool | None, typer.Option("--online/--offline",
                                                help="Only online (or offline) ones.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000,
                                       help="At most this many.")] = 10_000,
    as_json: JsonOption = False,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """One line per terminal: id, presence, site, version, last seen, what is not ok."""
    params: dict[str, Any] = {"limit": min(PAGE, limit)}
    if site is not None:
        params["site"] = site
    if online is not None:
        params["online"] = str(online).lower()
    devices: list[dict[str, Any]] = []
    while len(devices) < limit:
        page = _call("GET", f"{manager.rstrip('/')}/api/v1/devices", params=params)
        devices += page["items"]
        if not page.get("next_after"):
            break
        params["after"] = page["next_after"]
    devices = devices[:limit]
    if as_json:
        typer.echo(json.dumps(devices, indent=2, sort_keys=True))
        return
    typer.echo(f"{'id':<16} {'presence':<8} {'site':<14} {'version':<10} {'last seen (UTC)':<19}"
               "  problems")
    for device in devices:
        typer.echo(_row(device))
    typer.echo(f"{len(devices)} terminals, {sum(d['online'] for d in devices)} online")


@devices_app.command("show")
def show(device_id: Annotated[str, typer.Argument(help="The terminal's id.")],
         as_json: JsonOption = False, manager: ManagerOption = DEFAULT_MANAGER) -> None:
    """A terminal's presence, versions and newest health."""
    device = _call("GET", f"{manager.rstrip('/')}/api/v1/devices/{device_id}")
    if as_json:
        typer.echo(json.dumps(device, indent=2, sort_keys=True))
        return
    presence = device["presence"]
    health = device.get("health") or {}
    lines = [
        _row(device),
        f"presence: {presence.get('last_event') or '-'} session {presence.get('session_seq')}"
        f" ({presence.get('reason') or '-'}) at {presence.get('changed_at') or '-'}",
        f"agent {device.get('agent_version') or '-'} on {device.get('hostname') or '-'}, "
        f"health every {device.get('health_interval_s') or '-'} s",
    ]
    if health:
        system = health.get("system") or {}
        lines.append(f"system: cpu {system.get('cpu_percent')} %, memory "
                     f"{system.get('memory_percent')} %, disk {system.get('disk_percent')} %"
                     + (f", {device['temperature_c']} °C" if device.get("temperature_c")
                        is not None else ""))
        for name, p in sorted((health.get("peripherals") or {}).items()):
            if isinstance(p, dict):
                lines.append(f"  {name}: {p.get('state')} {p.get('code') or ''} "
                             f"{p.get('reason') or ''}".rstrip())
    typer.echo("\n".join(lines))


@devices_app.command("labels")
def labels(
    device_id: Annotated[str, typer.Argument(help="The terminal's id.")],
    region: Annotated[str | None, typer.Option(help="Its region, for rollout filters.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable); the "
                                                  "set given replaces the old one.")] = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Set a terminal's region and tags (idempotent: the same again changes nothing)."""
    out = _call("PUT", f"{manager.rstrip('/')}/api/v1/devices/{device_id}/labels",
                json={"region": region, "tags": tag or []})
    typer.echo(f"{device_id}: region {out.get('region') or '-'}, tags "
               f"{', '.join(out.get('tags') or []) or '-'}")


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
    as_json: JsonOption = False,
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
