"""`kioskctl central-sim`: the central benefit platform simulator.

Only typer is imported at module level: `kioskctl` loads every part's CLI on start-up.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

_SIZE_DEFAULT = 5000  # population.DEFAULT_SIZE, without importing it at start-up


def _parse_day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc


def central_sim_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 42,
    population: Annotated[
        int, typer.Option(min=1, help="Number of synthetic citizens.")
    ] = _SIZE_DEFAULT,
    million: Annotated[
        bool, typer.Option("--million", help="A population of 1,000,000 (overrides --population).")
    ] = False,
    api_key: Annotated[
        str, typer.Option(help="Bearer key the edge must present.", envvar="CENTRAL_SIM_API_KEY")
    ] = "central-dev-key",
    today: Annotated[
        str | None,
        typer.Option(help="Fixed business date YYYY-MM-DD for payments (default: today)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the central benefit platform simulator (docs/simulators/central.md)."""
    from simulators.central.config import CentralSimConfig
    from simulators.central.main import serve
    from simulators.central.population import MILLION

    config = CentralSimConfig(
        seed=seed,
        population=MILLION if million else population,
        api_key=api_key,
        today=_parse_day(today),
    )
    serve(config, host, port, log_level)
