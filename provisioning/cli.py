"""STUB: replaced by the provisioning implementation."""

import typer

provision_app = typer.Typer(help="Provision terminals.", no_args_is_help=True)


@provision_app.command("device")
def device() -> None:
    """Write a terminal's device file."""
    raise typer.Exit(2)
