"""STUB: replaced by the fleet implementation."""

import typer

fleet_app = typer.Typer(help="Fleet management.", no_args_is_help=True)


@fleet_app.command("manager")
def manager(host: str = "127.0.0.1", port: int = 8300) -> None:
    """Run the fleet manager."""
    raise typer.Exit(2)


@fleet_app.command("agent")
def agent() -> None:
    """Run the fleet agent."""
    raise typer.Exit(2)
