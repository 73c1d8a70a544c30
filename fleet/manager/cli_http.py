"""What every `kioskctl fleet …` client of the manager's REST API shares: the --manager option
and one call that turns any failure into one line on stderr and an exit code (2 the manager
unreachable, 1 it refused). Only typer at module level (`kioskctl --help` stays light)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

ManagerOption = Annotated[str, typer.Option("--manager", envvar="KIOSKCTL_FLEET_MANAGER",
                                            help="The manager's base URL.")]
DEFAULT_MANAGER = "http://127.0.0.1:8300"
TIMEOUT_S = 10.0


def call(method: str, url: str, **kwargs: Any) -> Any:
    import httpx

    try:
        r = httpx.request(method, url, timeout=TIMEOUT_S, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(f"error: {url}: {exc}", err=True)
        raise typer.Exit(2) from None
    if r.status_code >= 400:
        try:
            body = r.json()
            typer.echo(f"error: {body.get('title')}: {body.get('detail', '')}", err=True)
        except ValueError:
            typer.echo(f"error: HTTP {r.status_code}", err=True)
        raise typer.Exit(1)
    return r.json()
