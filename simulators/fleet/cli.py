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
_PICK = "Which terminals: a count (20), a fraction (5%) or ids (SIM-00001,SIM-00007)."
CRASH_PHASES = ("download", "verify", "install", "wait-lock", "switch", "commit", "rollback")


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
    paper_out: str = typer.Option("0", help=f"Printers out of paper. {_PICK}"),
    reader_unplugged: str = typer.Option("0", help=f"Card readers unplugged. {_PICK}"),
    flap: str = typer.Option("0", help=f"Links that drop and come back. {_PICK}"),
    flaps: int = typer.Option(3, min=0, max=1000, help="Drops per flapping link."),
    flap_every: float = typer.Option(5.0, min=0.1, help="Seconds between drops."),
    flap_down: float = typer.Option(1.0, min=0, help="Seconds a dropped link stays down."),
    crash_in_update: str = typer.Option("0", help=f"Agents killed once mid-update. {_PICK}"),
    crash_phase: str = typer.Option("install", help=f"Where: {', '.join(CRASH_PHASES)}."),
    bad_release: list[str] = typer.Option([], help="A version that never becomes healthy."),
    bad_on_model: list[str] = typer.Option([], help="A hardware model on which no new "
                                           "release becomes healthy."),
    model: list[str] = typer.Option([], help="Hardware models, spread over the terminals "
                                    "in turn (default KX-100 and KX-200)."),
    app_version: str = typer.Option("2.3.4", help="The release every terminal runs at first."),
    repository_url: str = typer.Option("", help="The artifact store (kioskctl fleet artifacts "
                                       "serve); without it updates are refused."),
    trusted_root: str = typer.Option("", help="The store's first root.json (what terminals "
                                     "are provisioned with)."),
    download_mode: str = typer.Option("tuf", help="tuf: a TUF refresh per terminal; shared: "
                                      "one per process, then Range downloads + SHA-256."),
    update_workers: int = typer.Option(16, min=1, max=512, help="Jobs worked on at once."),
    work_dir: str = typer.Option("", help="Where terminals keep TUF metadata and downloads "
                                 "(default: a temporary directory)."),
    commit_deadline: float = typer.Option(5.0, min=0.1, help="Seconds a new release has to "
                                          "become healthy."),
    log_level: str = typer.Option("WARNING", help="Logging level."),
) -> None:
    """Run the fleet; print one JSON line of counters at the end."""
    import random
    import tempfile
    import threading
    from pathlib import Path

    from common.logs import setup_logging
    from simulators.fleet.memory_fleet import device_ids
    from simulators.fleet.run import Misbehaviours, pick, run_fleet
    from simulators.fleet.terminal import MODELS
    from simulators.fleet.updates import UpdateConfig

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(2)

    bad = [f for f in out_of_range if f not in OUT_OF_RANGE_FIELDS]
    if bad:
        raise fail(f"unknown field(s) {bad}; choose from {OUT_OF_RANGE_FIELDS}")
    if crash_phase not in CRASH_PHASES:
        raise fail(f"--crash-phase must be one of {CRASH_PHASES}")
    if download_mode not in ("tuf", "shared"):
        raise fail("--download-mode must be tuf or shared")
    ids = device_ids(terminals, prefix)
    for name, spec in (("--paper-out", paper_out), ("--reader-unplugged", reader_unplugged),
                       ("--flap", flap), ("--crash-in-update", crash_in_update)):
        try:
            pick(spec, ids, random.Random(0))
        except ValueError as exc:
            raise fail(f"{name}: {exc}") from None
    root: bytes | None = None
    if trusted_root:
        try:
            root = Path(trusted_root).read_bytes()[:1_000_000]
        except OSError as exc:
            raise fail(f"--trusted-root: {exc.strerror}") from None
    setup_logging(log_level.upper())
    stop = threading.Event()
    misbehaviours = Misbehaviours(
        after_s=misbehave_after, kill=kill, late_wills=late_wills, forged_deaths=forged_deaths,
        forged_healths=forged_healths, out_of_range=tuple(out_of_range), ghosts=ghosts,
        paper_out=paper_out, reader_unplugged=reader_unplugged, flapping=flap, flaps=flaps,
        flap_every_s=flap_every, flap_down_s=flap_down, crash_in_update=crash_in_update,
        crash_phase=crash_phase, bad_releases=tuple(bad_release),
        bad_on_models=tuple(bad_on_model))
    try:
        with tempfile.TemporaryDirectory(prefix="sim-fleet-") as tmp:
            updates = UpdateConfig(repository_url=repository_url, root_json=root,
                                   work_dir=Path(work_dir or tmp), mode=download_mode,
                                   workers=update_workers, commit_deadline_s=commit_deadline)
            counters = run_fleet(
                broker_url, terminals, loops=loops, prefix=prefix,
                health_interval_s=health_interval, duration_s=duration or None, seed=seed,
                stop=stop, misbehaviours=misbehaviours, updates=updates,
                app_version=app_version, models=tuple(model) or MODELS,
            )
    except OSError as exc:  # the open-file limit, a broker that is not there
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        stop.set()
        raise typer.Exit(130) from None
    sys.stdout.write(json.dumps(counters) + "\n")
