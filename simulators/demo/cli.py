"""`kioskctl demo`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType

import typer


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo_command(
    workdir: Path = typer.Option(
        Path("demo-output"), help="Where logs, databases and screenshots go (a new subfolder "
        "per run)."
    ),
    offscreen: bool | None = typer.Option(
        None, "--offscreen/--window",
        help="Render offscreen and play the scripted journey (default when $DISPLAY is unset), "
        "or open the kiosk window for you to use.",
    ),
    keep_running: bool = typer.Option(
        False, help="After the scripted journey, keep the stack up until Ctrl-C."
    ),
    journey: bool = typer.Option(
        True, "--journey/--no-journey",
        help="Offscreen, play the scripted journey; --no-journey starts the stack and waits "
        "for Ctrl-C, for testers who drive the simulators themselves (kioskctl sim ...).",
    ),
    population: int = typer.Option(5000, help="Synthetic citizens in the central simulator."),
    seed: int = typer.Option(42, help="Seed of the synthetic population."),
) -> None:
    """Run the whole stack on simulated hardware.

    Starts the central platform simulator, an edge server, Mosquitto, the fleet manager and
    agent, pcscd with a virtual card reader and card, and the kiosk. Without a display it plays
    a scripted journey and writes screenshots to a folder it names. Ctrl-C stops everything it
    started.
    """
    from common.logs import setup_logging
    from simulators.demo.journey import Journey
    from simulators.stack.clients import ControlError
    from simulators.stack.requirements import MissingSystemPackage, require
    from simulators.stack.stack import Stack, StackOptions
    from simulators.stack.supervisor import ProcessFailed, Supervisor

    setup_logging("WARNING")
    if offscreen is None:
        offscreen = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    run_dir = (workdir / time.strftime("%Y%m%d-%H%M%S")).resolve()
    shots_dir = run_dir / "screenshots"
    run_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        require("pcscd", "vpcd", "unshare", "mosquitto", "cjk-font")
    except MissingSystemPackage as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc

    options = StackOptions(
        workdir=run_dir, offscreen=offscreen, screenshots=shots_dir, population=population,
        seed=seed,
        # The edge asks the central platform on every visit, so that the outage step shows the
        # cache answering with its "as of" time (the default keeps answers for 5 minutes).
        edge_env={"EDGE_CACHE_TTL_S": "0"},
    )
    typer.echo(f"demo: starting the stack in {run_dir}")
    with Supervisor(run_dir / "logs") as sup:
        try:
            stack = Stack(options, sup).start()
            for name, proc in stack.procs.items():
                typer.echo(f"  {name:<14} pid {proc.pid:<7} log {proc.log_path}")
            typer.echo(f"  kiosk status  {stack.kiosk.url}/status")
            typer.echo(f"  fleet manager {stack.manager.url}/api/v1/devices")
            if offscreen and journey:
                typer.echo("demo: playing the scripted journey")
                began = time.monotonic()
                shots = Journey(stack, typer.echo).run()
                typer.echo(f"demo: the journey took {time.monotonic() - began:.0f} s; "
                           f"{len(shots)} screenshots in {shots_dir}:")
                for shot in shots:
                    typer.echo(f"  {shot.name}")
                device = stack.fleet_client().device(options.device_id)
                if device is not None:
                    typer.echo(f"demo: the fleet manager sees {options.device_id} "
                               f"online={device.get('online')}")
            if not offscreen or keep_running or not journey:
                typer.echo(
                    "demo: running. Insert a virtual card with\n"
                    f"  kioskctl sim card insert --control-url {stack.card_sim.url}"
                    " --citizen-index 1\n"
                    f"and take it out with\n  kioskctl sim card remove --control-url "
                    f"{stack.card_sim.url}\nCtrl-C stops everything."
                )
                # Not signal.pause(): a signal the kernel hands to another thread would not
                # wake it. Sleeping in slices lets the main thread run the handler.
                while True:
                    time.sleep(0.5)
        except ProcessFailed as exc:
            typer.echo(f"demo: {exc}", err=True)
            raise typer.Exit(1) from exc
        except ControlError as exc:
            typer.echo(f"demo: the scripted journey failed: {exc}\n"
                       f"demo: each process's log is in {run_dir / 'logs'}", err=True)
            raise typer.Exit(1) from exc
        except KeyboardInterrupt:
            typer.echo("\ndemo: stopping")
    typer.echo("demo: everything it started has stopped")
