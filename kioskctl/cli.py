"""The root command. Subcommand modules import only typer at import time, so `kioskctl --help`
and each process start without loading the others' dependencies (Kivy, dlib, FastAPI)."""

from __future__ import annotations

import typer

from edge_server.cli import edge_app
from fleet.cli import fleet_app
from kiosk.cli import kiosk_command
from provisioning.cli import provision_app
from simulators.cli import central_sim_command, demo_command, sim_app

app = typer.Typer(
    name="kioskctl",
    help=(
        "Self-service terminal stack for human-resources and social-security offices.\n\n"
        "Each subcommand runs one process; `kioskctl demo` runs them all on simulated hardware."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("kiosk")(kiosk_command)
app.add_typer(edge_app, name="edge")
app.command("central-sim")(central_sim_command)
app.add_typer(fleet_app, name="fleet")
app.add_typer(sim_app, name="sim")
app.add_typer(provision_app, name="provision")
app.command("demo")(demo_command)


def main() -> None:
    app()
