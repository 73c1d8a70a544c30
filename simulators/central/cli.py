"""STUB: replaced by the central simulator implementation."""

import typer


def central_sim_command(port: int = 8100) -> None:
    """Run the central platform simulator."""
    raise typer.Exit(2)
