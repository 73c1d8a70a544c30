"""`kioskctl edge`: run the hall's edge server.

Only typer is imported at module level: `kioskctl` loads every part's CLI on start-up.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

ConfigOption = Annotated[
    str | None,
    typer.Option(help="Device TOML file (tables \\[device] and \\[edge]; else $HRSS_CONFIG)."),
]
HostOption = Annotated[str | None, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="TCP port (default 8200).")]
MigrateToOption = Annotated[
    str | None,
    typer.Option(help="Only migrate the database to this revision (e.g. 0001 before rolling "
                      "back to release 0.1.0, or head), then exit."),
]


def edge_command(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    migrate_to: MigrateToOption = None,
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


# -- kioskctl edge outbox ... (operators; docs/outbox.md) ----------------------------------------
outbox_app = typer.Typer(help="The outbox: status, dead letters, retry after correction.",
                         no_args_is_help=True)
def _context(config: str | None) -> Any:
    from pydantic import ValidationError

    from edge_server.main import build_context
    from edge_server.settings import EdgeSettings

    try:
        settings = EdgeSettings.load(config)
    except (ValidationError, FileNotFoundError) as exc:
        typer.echo(f"edge outbox: settings: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None
    return build_context(settings)


def _close(ctx: Any) -> None:
    ctx.central.close()
    ctx.engine.dispose()


@outbox_app.command("status")
def outbox_status(config: ConfigOption = None) -> None:
    """Depth, oldest pending age, dead letters, sent, and whether the outbox is full."""
    from edge_server import outbox

    ctx = _context(config)
    try:
        found = outbox.stats(ctx)
    finally:
        _close(ctx)
    age = "-" if found.oldest_pending_age_s is None else f"{found.oldest_pending_age_s:.0f}s"
    typer.echo(f"depth {found.depth}  oldest pending {age}  dead letters {found.dead_letters}  "
               f"sent {found.sent}  full {'yes' if found.full else 'no'}")


@outbox_app.command("dead-letters")
def outbox_dead_letters(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 100,
) -> None:
    """Refused submissions not retried yet, oldest first (no personal data)."""
    from common.clock import iso_utc
    from edge_server import outbox

    ctx = _context(config)
    try:
        letters = outbox.dead_letters(ctx, limit)
    finally:
        _close(ctx)
    for d in letters:
        findings = ",".join(str(f.get("code", "")) for f in d.findings)
        typer.echo(f"{d.receipt_no}  {d.kind}  {d.device_id}  {iso_utc(d.created_at)}  "
                   f"{d.dead_code}  {d.dead_reason or ''}"
                   + (f"  [{findings}]" if findings else "")
                   + ("" if d.retryable else "  (wiped: not retryable)"))
    typer.echo(f"{len(letters)} dead letter(s)")


@outbox_app.command("retry")
def outbox_retry(
    receipt: Annotated[str, typer.Argument(help="The dead letter's receipt number.")],
    config: ConfigOption = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="A corrected form field, name=digits.")
    ] = None,
) -> None:
    """Requeue a copy of a dead letter with a new submission key (optionally corrected)."""
    import re
    import uuid

    from edge_server import outbox

    form: dict[str, str] = {}
    for item in field or []:
        name, _, value = item.partition("=")
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name) or not re.fullmatch(
                r"[0-9]{1,32}", value):
            typer.echo(f"edge outbox: --field {name!r}: want name=digits", err=True)
            raise typer.Exit(2)
        form[name] = value
    ctx = _context(config)
    try:
        copy = outbox.retry(ctx, receipt, operator_key=f"cli-{uuid.uuid4().hex}",
                            form=form or None)
    except outbox.NotRetryable as exc:
        typer.echo(f"edge outbox: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (outbox.DuplicateClaim, outbox.OutboxFull) as exc:
        typer.echo(f"edge outbox: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None
    finally:
        _close(ctx)
    typer.echo(f"requeued as {copy.receipt_no} (retry of {receipt})")


# `kioskctl edge` as a group: no subcommand runs the server (edge_command), `outbox ...` the
# operators' commands.
edge_app = typer.Typer(help="Run the hall's edge server, or look after its outbox.",
                       invoke_without_command=True)


@edge_app.callback()
def _edge(
    typer_ctx: typer.Context,
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    migrate_to: MigrateToOption = None,
) -> None:
    """Run the edge server (see `edge_command`) unless a subcommand is given."""
    if typer_ctx.invoked_subcommand is None:
        edge_command(config=config, host=host, port=port, migrate_to=migrate_to)


edge_app.add_typer(outbox_app, name="outbox")
