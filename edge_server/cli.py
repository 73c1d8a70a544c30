"""STUB: replaced by the edge server implementation."""

import typer


def edge_command(
    config: str | None = typer.Option(None, help="Device TOML file."),
    host: str | None = typer.Option(None),
    port: int | None = typer.Option(None),
) -> None:
    """Run the edge server."""
    raise typer.Exit(2)
