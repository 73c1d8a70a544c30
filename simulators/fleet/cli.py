"""`kioskctl sim fleet run`: N virtual terminals against a real MQTT broker.

Only typer is imported at module level, so `kioskctl --help` stays fast.
"""

from __future__ import annotations

import json
import sys

import typer

fleet_sim_app = typer.Typer(
    help="A fleet of virtual terminals, each running the agent's core, against a real MQTT "
    "broker; misbehaviours on request. See docs/simulators/fleet.md.",
    no_args_is_help=True,
)

OUT_OF_RANGE_FIELDS = ("seq", "session_seq", "health_interval_s", "cpu_percent", "ts")
_OUT_OF_RANGE_HELP = (
    f"A field to send out of range once per terminal: {', '.join(OUT_OF_RANGE_FIELDS)}."
)


@fleet_sim_app.command("run")
def run(
    broker_url: str = typer.Option("mqtt://127.0.0.1:1883", help="mqtt://host:port"),
    terminals: int = typer.Option(100, min=1, max=50_000, help="How many terminals."),
    loops: int = typer.Option(4, min=1, max=64, help="Loop threads sharing the connections."),
    prefix: str = typer.Option("SIM", help="Device ids are <prefix>-00000, <prefix>-00001, ..."),
    health_interval: float = typer.Option(30.0, min=0.1, max=86_400, help="Seconds."),
    duration: float = typer.Option(0.0, min=0, help="Seconds to run; 0 = until Ctrl-C."),
    misbehave_after: float = typer.Option(5.0, min=0, help="When the misbehaviours happen."),
    kill: int = typer.Option(0, min=0, help="Terminals killed -9 style (Will), then restarted."),
    late_wills: int = typer.Option(0, min=0, help="Terminals whose old Will arrives late."),
    forged_deaths: int = typer.Option(0, min=0, help="Deaths with a huge session_seq."),
    forged_healths: int = typer.Option(0, min=0, help="Healths of a session never announced."),
    out_of_range: list[str] = typer.Option([], help=_OUT_OF_RANGE_HELP),
    ghosts: int = typer.Option(0, min=0, help="Births from terminals never heard of again."),
    seed: int = typer.Option(0, help="Seed of the synthetic health figures."),
    log_level: str = typer.Option("WARNING", help="Logging level."),
) -> None:
    """Run the fleet; print one JSON line of counters at the end."""
    import threading

    from common.logs import setup_logging
    from simulators.fleet.run import Misbehaviours, run_fleet

    bad = [f for f in out_of_range if f not in OUT_OF_RANGE_FIELDS]
    if bad:
        typer.echo(f"error: unknown field(s) {bad}; choose from {OUT_OF_RANGE_FIELDS}", err=True)
        raise typer.Exit(2)
    setup_logging(log_level.upper())
    stop = threading.Event()
    try:
        counters = run_fleet(
            broker_url, terminals, loops=loops, prefix=prefix, health_interval_s=health_interval,
            duration_s=duration or None, seed=seed, stop=stop,
            misbehaviours=Misbehaviours(after_s=misbehave_after, kill=kill,
                                        late_wills=late_wills, forged_deaths=forged_deaths,
                                        forged_healths=forged_healths,
                                        out_of_range=tuple(out_of_range), ghosts=ghosts),
        )
    except KeyboardInterrupt:
        stop.set()
        raise typer.Exit(130) from None
    sys.stdout.write(json.dumps(counters) + "\n")
