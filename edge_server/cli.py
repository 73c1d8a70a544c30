"""`kioskctl edge`: run the hall's edge server.

Only typer is imported at module level: `kioskctl` loads every part's CLI on start-up.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer


def edge_command(
    config: Annotated[
        str | None,
        typer.Option(help="Device TOML file (tables \\[device] and \\[edge]; else $HRSS_CONFIG)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8200).")] = None,
    migrate_to: Annotated[
        str | None,
        typer.Option(help="Only migrate the database to this revision (e.g. 0001 before rolling "
                          "back to release 0.1.0, or head), then exit."),
    ] = None,
) -> None:
    """Run the edge server (settings: the device file, then EDGE_* environment variables).

    The database is migrated to head on every start; `--migrate-to` moves it to another
    revision without serving (an A/B rollback runs it with the new software first)."""
    from pydantic import ValidationError

    from edge_server.main import serve
    from edge_server.settings import EdgeSettings

    overrides: dict[str, Any] = {k: v for k, v in (("host", host), ("port", port)) if v}
    try:
        settings = EdgeSettings.load(config, **overrides)
    except (ValidationError, FileNotFoundError) as exc:
        # Field names and messages only: never echo a value (secrets live in these settings).
        if isinstance(exc, ValidationError):
            for error in exc.errors():
                where = ".".join(map(str, error["loc"])) or "settings"
                typer.echo(f"edge: setting {where}: {error['msg']}", err=True)
        else:
            typer.echo(f"edge: {exc}", err=True)
        raise typer.Exit(2) from None
    if migrate_to is not None:
        _migrate(settings, migrate_to)
        return
    serve(settings)


def _migrate(settings: Any, revision: str) -> None:
    from alembic.util import CommandError

    from common.sqlite import make_engine
    from edge_server import migrate

    engine = make_engine(settings.database_url)
    try:
        reached = migrate.migrate_to(engine, revision)
    except CommandError as exc:
        typer.echo(f"edge: cannot migrate to {revision}: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"edge: database at revision {reached}")
