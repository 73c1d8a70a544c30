"""`kioskctl sim printer ...`: run the virtual receipt printer and drive it.

Only typer is imported at module level, so `kioskctl --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from simulators.control_cli import call, print_json

DEFAULT_URL = "http://127.0.0.1:8720"

printer_app = typer.Typer(
    help=(
        "A virtual ESC/POS receipt printer on TCP (raw port 9100 style) and a pty: renders "
        "every job to text and PNG, answers DLE EOT status, runs out of paper on request.\n\n"
        "`serve` runs it; `status`, `jobs`, `paper`, `cover`, `online` and `clear` drive a "
        "running one. See docs/simulators/printer.md."
    ),
    no_args_is_help=True,
)

_URL_HELP = "URL of a running `kioskctl sim printer serve` (its control API)."


@printer_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address of the printer port and control API."),
    port: int = typer.Option(9100, min=0, max=65535, help="TCP port of the ESC/POS stream."),
    control_port: int = typer.Option(8720, min=1, max=65535, help="Port of the control API."),
    pty_link: Path | None = typer.Option(None, help="Make this symlink to the printer's pty."),
    no_pty: bool = typer.Option(False, "--no-pty", help="Listen on TCP only."),
    out: Path | None = typer.Option(None, help="Write job-N.txt and job-N.png here."),
    width: int = typer.Option(576, help="Paper width in dots: 576 (80 mm) or 384 (58 mm)."),
    log_level: str = typer.Option("INFO", help="Logging level."),
) -> None:
    """Take ESC/POS on TCP and a pty; serve the control API under /sim/v1."""
    from common.logs import setup_logging
    from simulators.printer.service import serve as run

    setup_logging(log_level.upper())
    try:
        run(host=host, port=port, control_port=control_port, pty_link=pty_link, out_dir=out,
            width_px=width, pty=not no_pty)
    except OSError as exc:
        typer.echo(f"cannot serve: {exc}", err=True)
        raise typer.Exit(1) from exc


@printer_app.command("status")
def status(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Print paper, cover and online state, and how many jobs it printed."""
    print_json(_call("GET", url, "/sim/v1/status"))


@printer_app.command("jobs")
def jobs(
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
    png: Path | None = typer.Option(None, help="Also save each job's PNG in this folder."),
) -> None:
    """Print every job's transcript and state (complete, interrupted, QR codes)."""
    import httpx

    listed = _call("GET", url, "/sim/v1/jobs")
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)
        for job in listed:
            response = httpx.get(f"{url.rstrip('/')}/sim/v1/jobs/{job['id']}/png", timeout=10)
            if response.status_code == 200:
                (png / f"job-{job['id']}.png").write_bytes(response.content)
    print_json(listed)


@printer_app.command("paper")
def paper(
    state: str = typer.Argument(..., help="ok, low or out."),
    after_lines: int | None = typer.Option(
        None, min=0, help="With `out`: run out after this many more printed lines (mid-job)."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Load paper, make it low, or run out (now or after N lines)."""
    print_json(_call("PUT", url, "/sim/v1/paper", {"state": state, "after_lines": after_lines}))


@printer_app.command("cover")
def cover(
    state: str = typer.Argument(..., help="open or closed."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Open or close the cover (open stops printing)."""
    if state not in ("open", "closed"):
        typer.echo("cover is open or closed", err=True)
        raise typer.Exit(2)
    print_json(_call("PUT", url, "/sim/v1/cover", {"open": state == "open"}))


@printer_app.command("online")
def online(
    state: str = typer.Argument(..., help="online, offline, or silent (answers nothing)."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Put the printer online, offline, or make it silent (a hung printer)."""
    if state not in ("online", "offline", "silent"):
        typer.echo("state is online, offline or silent", err=True)
        raise typer.Exit(2)
    print_json(_call("PUT", url, "/sim/v1/online",
                     {"online": state == "online", "silent": state == "silent"}))


@printer_app.command("clear")
def clear(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Forget the jobs printed so far."""
    print_json(_call("DELETE", url, "/sim/v1/jobs"))


def _call(method: str, base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call("printer simulator", method, base_url, path, body)


@printer_app.command("cupsd")
def cupsd(
    port: int = typer.Option(8631, min=1, max=65535, help="Port of the private cupsd (IPP)."),
    base: Path | None = typer.Option(
        None, help="Its folder (config, spool, printed PDFs); must be searchable by lp and "
        "nobody. Default: a new temporary folder, removed on exit."),
    remove_base: bool = typer.Option(
        False, "--remove-base", help="Remove the --base folder on exit too (made for this run)."),
    capture_queue: str = typer.Option("A4", help="Name of the capture queue (text kept)."),
    pdf_queue: str = typer.Option("PDF", help="Name of the cups-pdf queue."),
) -> None:
    """Run a private cupsd with a capture and a cups-pdf queue until interrupted (root)."""
    import signal
    import threading

    from simulators.printer.cupsd import CupsdError, PrivateCupsd

    # Its own folder (no --base) or --remove-base: stop() removes it.
    scheduler = PrivateCupsd(base, port, owns_base=base is None or remove_base)
    finished = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: finished.set())
    try:
        scheduler.start()
        scheduler.add_capture_queue(capture_queue)
        scheduler.add_pdf_queue(pdf_queue)
        typer.echo(f"private cupsd: {scheduler.server} queues {capture_queue} {pdf_queue}; "
                   f"printed PDFs in {scheduler.pdf_dir} and {scheduler.capture_root}",
                   err=True)
        finished.wait()
    except CupsdError as exc:
        typer.echo(f"cannot run cupsd: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        scheduler.stop()
