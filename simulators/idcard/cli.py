"""`kioskctl sim idcard ...`: run the simulated ID card reader on a pty and drive it.

Only typer is imported at module level, so `kioskctl --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer

from simulators.control_cli import call, print_json
from simulators.idcard import DEFAULT_CONTROL_PORT, DEFAULT_LINK

DEFAULT_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}"
FAULTS = ("no-card", "bad-checksum", "garbage", "mute", "read-fail", "sam-fault", "bad-id")

idcard_app = typer.Typer(
    help=(
        "A simulated resident ID card reader (二代身份证, SAM frame protocol) on a pty.\n\n"
        "`serve` runs it; `place`, `remove`, `fault`, `unplug`, `replug` and `status` drive a "
        "running one. See docs/simulators/idcard.md."
    ),
    no_args_is_help=True,
)

_URL_HELP = "URL of a running `kioskctl sim idcard serve`."


def _call(method: str, url: str, path: str, body: dict[str, Any] | None = None) -> None:
    print_json(call("ID card simulator", method, url, path, body))


@idcard_app.command("serve")
def serve(
    link: str = typer.Option(DEFAULT_LINK, help="Stable path (a symlink to the pty) that the "
                             "driver opens, as it would /dev/ttyUSB0."),
    control_host: str = typer.Option("127.0.0.1", help="Address of the HTTP control API."),
    control_port: int = typer.Option(DEFAULT_CONTROL_PORT, help="Port of the control API."),
    seed: int = typer.Option(42, help="Seed of the synthetic population (as the central sim)."),
    population: int = typer.Option(5000, help="Size of the synthetic population."),
    log_level: str = typer.Option("INFO", help="Logging level."),
) -> None:
    """Run the reader: a pty linked at --link, controlled over HTTP. No card lies on it
    until you `place` one."""
    from common.logs import setup_logging
    from simulators.idcard.service import serve as run

    setup_logging(log_level.upper())
    run(link=link, control_host=control_host, control_port=control_port, seed=seed,
        population=population)


@idcard_app.command("place")
def place(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP),
    citizen_index: int | None = typer.Option(
        None, help="The holder by population index (default 0 when no --citizen-id)."),
    citizen_id: str | None = typer.Option(
        None, help="The holder by 18-character ID; outside the population with --name."),
    name: str | None = typer.Option(None, help="The name on the card instead of the holder's."),
    expired: bool = typer.Option(False, "--expired", help="A card whose validity has ended."),
    valid_until: str | None = typer.Option(None, help="'长期' or YYYY-MM-DD."),
    card_type: str = typer.Option(
        "resident", help="resident, or I / J / Y (foreigner's card, residence permit)."),
) -> None:
    """Place a card on the reader (replacing any card there) and print the status."""
    if card_type not in ("resident", "I", "J", "Y"):
        raise typer.BadParameter("use resident, I, J or Y", param_hint="--card-type")
    body: dict[str, Any] = {"expired": expired, "card_type": card_type}
    optional = {"citizen_index": citizen_index, "citizen_id": citizen_id, "name": name,
                "valid_until": valid_until}
    body |= {k: v for k, v in optional.items() if v is not None}
    _call("POST", control_url, "/place", body)


@idcard_app.command("remove")
def remove(control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP)) -> None:
    """Take the card off the reader."""
    _call("POST", control_url, "/remove")


@idcard_app.command("fault")
def fault(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(FAULTS)}."),
    count: int | None = typer.Option(None, min=1, help="For N answers (default: until cleared)."),
    on: str = typer.Option("read", help="bad-checksum / garbage / mute: read, find or all."),
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP),
) -> None:
    """Make the reader misbehave."""
    if kind not in FAULTS:
        raise typer.BadParameter(f"use one of {', '.join(FAULTS)}", param_hint="KIND")
    if on not in ("read", "find", "all"):
        raise typer.BadParameter("use read, find or all", param_hint="--on")
    body: dict[str, Any] = {"kind": kind, "on": on}
    if count is not None:
        body["count"] = count
    _call("POST", control_url, "/fault", body)


@idcard_app.command("clear-faults")
def clear_faults(control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP)) -> None:
    """Behave again."""
    _call("POST", control_url, "/clear-faults")


@idcard_app.command("unplug")
def unplug(control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP)) -> None:
    """Pull the reader's cable: the pty closes and the link disappears."""
    _call("POST", control_url, "/unplug")


@idcard_app.command("replug")
def replug(control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP)) -> None:
    """Plug it back in (a new pty behind the same link)."""
    _call("POST", control_url, "/replug")


@idcard_app.command("status")
def status(control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_URL_HELP)) -> None:
    """The port, the card (masked), queued faults and request counts."""
    _call("GET", control_url, "/status")
