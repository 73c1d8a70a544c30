"""`kioskctl central-sim`: the central benefit platform simulator.

Only typer is imported at module level: `kioskctl` loads every part's CLI on start-up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

_SIZE_DEFAULT = 5000  # population.DEFAULT_SIZE, without importing it at start-up
# faults.HOSTILE_MODES, for the same reason; a test keeps the two equal.
HOSTILE_MODES = (
    "trickle", "oversized", "other-citizen", "out-of-range", "bare-404", "deep-nesting",
    "invalid-utf8", "wrong-content-type",
)


def _parse_day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc


def _parse_window(value: str) -> tuple[dt.datetime, dt.datetime]:
    """START/END, both ISO 8601 with a zone (e.g. 2026-11-22T02:00:00Z/2026-11-22T02:30:00Z)."""
    start, sep, end = value.partition("/")
    try:
        if not sep:
            raise ValueError
        times = (dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
    except ValueError as exc:
        raise typer.BadParameter("use START/END in ISO 8601 with a zone") from exc
    if any(t.tzinfo is None for t in times) or times[1] <= times[0]:
        raise typer.BadParameter("START/END need a zone, and END after START")
    return times


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
    hostile: Annotated[
        str | None,
        typer.Option(help=f"Start with this hostile answer mode: {', '.join(HOSTILE_MODES)}."),
    ] = None,
    trickle_interval_ms: Annotated[
        int, typer.Option(min=1, max=60_000, help="trickle: milliseconds between bytes.")
    ] = 2000,
    oversized_bytes: Annotated[
        int, typer.Option(min=1, max=4 * 1024**3, help="oversized: size of the answer.")
    ] = 300 * 1024 * 1024,
    nesting_depth: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="deep-nesting: levels of nesting.")
    ] = 100_000,
    outage: Annotated[bool, typer.Option(help="Start in a simulated outage (503).")] = False,
    latency_ms: Annotated[
        int, typer.Option(min=0, max=60_000, help="Delay before every contract call.")
    ] = 0,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of contract calls answered 500.")
    ] = 0.0,
    refuse_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0,
                            help="Share of submissions refused with simulated-refusal.")
    ] = 0.0,
    lose_response_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0,
                            help="Share of submission batches committed, then cut off.")
    ] = 0.0,
    duplicate_response_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0,
                            help="Share of submission batches answered with the previous answer.")
    ] = 0.0,
    slow_body_ms: Annotated[
        int, typer.Option(min=0, max=600_000, help="Every answer trickles over this long.")
    ] = 0,
    outage_window: Annotated[
        list[str] | None,
        typer.Option(help="START/END (ISO 8601, with zone): 503 maintenance inside; repeatable."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory of the durable state (default: a fresh temporary one)."),
    ] = None,
) -> None:
    """Run the central benefit platform simulator (docs/simulators/central.md).

    The fault options set what it starts with; `PUT /sim/v1/faults` changes them at run time.
    """
    if hostile is not None and hostile not in HOSTILE_MODES:
        raise typer.BadParameter(f"one of {', '.join(HOSTILE_MODES)}", param_hint="--hostile")
    windows = [_parse_window(w) for w in outage_window or []]
    from simulators.central.config import CentralSimConfig
    from simulators.central.faults import Faults, OutageWindow
    from simulators.central.main import serve
    from simulators.central.population import MILLION

    config = CentralSimConfig(
        seed=seed,
        population=MILLION if million else population,
        api_key=api_key,
        today=_parse_day(today),
        faults=Faults(
            outage=outage, latency_ms=latency_ms, hostile=hostile,  # type: ignore[arg-type]
            trickle_interval_ms=trickle_interval_ms, oversized_bytes=oversized_bytes,
            nesting_depth=nesting_depth, error_rate=error_rate, refuse_rate=refuse_rate,
            lose_response_rate=lose_response_rate,
            duplicate_response_rate=duplicate_response_rate, slow_body_ms=slow_body_ms,
            outage_windows=[OutageWindow(start=a, end=b) for a, b in windows],
        ),
        data_dir=data_dir,
    )
    serve(config, host, port, log_level)
