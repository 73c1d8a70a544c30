"""`kioskctl sim ...`, `kioskctl central-sim` and `kioskctl demo`."""

from __future__ import annotations

import typer

from simulators.camera.cli import camera_app
from simulators.card.cli import card_app
from simulators.central.cli import central_sim_command
from simulators.demo.cli import demo_command
from simulators.fleet.cli import fleet_sim_app
from simulators.idcard.cli import idcard_app
from simulators.printer.cli import printer_app
from simulators.qr.cli import qr_app

sim_app = typer.Typer(help="Simulated devices for testers.", no_args_is_help=True)
sim_app.add_typer(card_app, name="card")
sim_app.add_typer(camera_app, name="camera")
sim_app.add_typer(fleet_sim_app, name="fleet")
sim_app.add_typer(printer_app, name="printer")
sim_app.add_typer(idcard_app, name="idcard")
sim_app.add_typer(qr_app, name="qr")

__all__ = ["central_sim_command", "demo_command", "sim_app"]
