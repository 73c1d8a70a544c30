"""`kioskctl fleet rollouts …`: create, list, watch (a progress bar), pause, resume, abort,
retry — a client of the manager's REST API. Only typer at module level (`kioskctl --help`
stays light)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Annotated, Any

import typer

from fleet.manager.cli_http import DEFAULT_MANAGER, ManagerOption
from fleet.manager.cli_http import call as _call

rollouts_app = typer.Typer(help="Staged rollouts of a release (docs/fleet.md, Rollouts).",
                           no_args_is_help=True)





def _line(r: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items()))
    return (f"{r['id']}  {r['name']}  {r['state']}  group {r['group']}/{r['groups']}  "
            f"{r['done']}/{r['total']} done  ({counts})"
            + (f"  — {r['reason']}" if r.get("reason") else ""))


@rollouts_app.command("create")
def create(
    target: Annotated[str, typer.Option(help="TUF target, e.g. kiosk/hrss-kiosk-1.4.0.tar.gz")],
    version: Annotated[str, typer.Option(help="The version the target installs.")],
    name: Annotated[str | None, typer.Option(help="Default: the version.")] = None,
    groups: Annotated[str, typer.Option(help='Comma-separated: "N", "N%" or "rest".')] =
        "1%,10%,rest",
    site: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Repeat for several (all must hold).")] =
        None,
    from_version: Annotated[list[str] | None, typer.Option(help="Current version (repeat).")] =
        None,
    success_threshold: Annotated[float, typer.Option(help="% of a group.")] = 100.0,
    error_threshold: Annotated[float, typer.Option(help="% of a group that aborts.")] = 10.0,
    error_count: Annotated[int | None, typer.Option(help="Failures that abort.")] = None,
    rate: Annotated[int | None, typer.Option(help="Terminals per minute.")] = None,
    jitter: Annotated[float, typer.Option(help="Random delay per terminal, s.")] = 0.0,
    ttl: Annotated[int, typer.Option(help="TTL of each command, s.")] = 3600,
    force: Annotated[bool, typer.Option(help="Also terminals on or past it.")] = False,
    key: Annotated[str | None, typer.Option(help="Idempotency-Key (retry safely).")] = None,
    manager: ManagerOption = DEFAULT_MANAGER,
) -> None:
    """Create and start a rollout; prints it as JSON."""
    body: dict[str, Any] = {
        "name": name or version, "target": target, "version": version,
        "groups": [g.strip() for g in groups.split(",") if g.strip()],
        "filter": {k: v for k, v in {"site": site, "region": region, "tags": tag or [],
                                      "versions": from_version or []}.items() if v},
        "success_threshold_percent": success_threshold,
        "error_threshold_percent": error_threshold, "error_threshold_count": error_count,
        "rate_per_minute": rate, "jitter_s": jitter, "ttl_s": ttl, "force": force,
    }
    r = _call("POST", f"{manager}/api/v1/rollouts", json=body,
              headers={"Idempotency-Key": key or uuid.uuid4().hex})
    typer.echo(json.dumps(r, default=str))


@rollouts_app.command("list")
def list_(manager: ManagerOption = DEFAULT_MANAGER) -> None:
    for r in _call("GET", f"{manager}/api/v1/rollouts"):
        typer.echo(_line(r))


@rollouts_app.command("watch")
def watch(rollout_id: str, interval: Annotated[float, typer.Option(min=0.2)] = 1.0,
          manager: ManagerOption = DEFAULT_MANAGER) -> None:
    """A progress bar until the rollout finishes (exit 0 succeeded, 1 otherwise)."""
    width = 30
    while True:
        r = _call("GET", f"{manager}/api/v1/rollouts/{rollout_id}")
        filled = int(width * r["done"] / max(1, r["total"]))
        bar = "#" * filled + "-" * (width - filled)
        ok, bad = r["counts"].get("succeeded", 0), r["counts"].get("failed", 0)
        sys.stdout.write(f"\r[{bar}] {r['done']}/{r['total']}  ok {ok}  failed {bad}  "
                         f"group {r['group']}/{r['groups']}  {r['state']:<10}")
        sys.stdout.flush()
        if r["finished_at"] is not None or r["state"] == "paused":
            sys.stdout.write("\n")
            if r.get("reason"):
                typer.echo(r["reason"])
            raise typer.Exit(0 if r["state"] == "succeeded" else 1)
        time.sleep(interval)


def _action(action: str) -> Any:
    def run(rollout_id: str, manager: ManagerOption = DEFAULT_MANAGER) -> None:
        typer.echo(_line(_call("POST", f"{manager}/api/v1/rollouts/{rollout_id}/{action}")))

    run.__doc__ = {"pause": "Pause: nothing new is sent.", "resume": "Resume a paused rollout.",
                   "abort": "Abort: the terminals that took the release roll back.",
                   "retry": "Send the update again to failed and expired terminals."}[action]
    return run


for _name in ("pause", "resume", "abort", "retry"):
    rollouts_app.command(_name)(_action(_name))
