"""STUB: replaced by the kiosk implementation."""

import typer


def kiosk_command(
    config: str | None = typer.Option(None, help="Device TOML file."),
    automation: bool = typer.Option(False, help="Enable loopback automation hooks."),
    screenshots: str | None = typer.Option(None, help="Write a screenshot per screen here."),
) -> None:
    """Run the kiosk app."""
    raise typer.Exit(2)
