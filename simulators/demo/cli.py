"""STUB: replaced by the demo implementation."""

import typer


def demo_command() -> None:
    """Run the whole stack on simulated hardware."""
    raise typer.Exit(2)
