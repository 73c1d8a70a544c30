"""STUB: replaced by the card simulator implementation."""

import typer

card_app = typer.Typer(help="Virtual social security cards.", no_args_is_help=True)


@card_app.command("serve")
def serve() -> None:
    """Run the virtual card service."""
    raise typer.Exit(2)
