"""What the simulators' CLIs share: one call to a simulator's control API, its problem+json
answer turned into a short message and exit status 1, and JSON printed for people."""

from __future__ import annotations

import json
from typing import Any

import typer


def call(what: str, method: str, base_url: str, path: str,
         body: dict[str, Any] | None = None, *, timeout: float = 10.0) -> Any:
    """The answer's JSON; on no answer or an error answer, a message on stderr and Exit(1)."""
    import httpx

    try:
        response = httpx.request(method, base_url.rstrip("/") + path, json=body,
                                 timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"{what} not reachable at {base_url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        payload = response.json()
    except ValueError:
        payload = {"status": response.status_code, "title": response.text[:200]}
    if response.is_error:
        title = payload.get("title", "error") if isinstance(payload, dict) else "error"
        detail = payload.get("detail") if isinstance(payload, dict) else None
        typer.echo(f"{response.status_code} {title}" + (f": {detail}" if detail else ""), err=True)
        for error in payload.get("errors", []) if isinstance(payload, dict) else []:
            typer.echo(f"  {'.'.join(error.get('loc', []))}: {error.get('msg', '')}", err=True)
        raise typer.Exit(1)
    return payload


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
