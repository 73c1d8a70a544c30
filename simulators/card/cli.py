"""`kioskctl sim card ...`: run the virtual card service and drive it.

Only typer is imported at module level, so `kioskctl --help` stays fast; each command imports
what it needs.
"""

from __future__ import annotations

from typing import Any

import typer

from simulators.control_cli import call, print_json

DEFAULT_CONTROL_URL = "http://127.0.0.1:8700"

card_app = typer.Typer(
    help=(
        "Virtual social security cards (社会保障卡) in the vpcd readers of a real pcscd.\n\n"
        "`serve` runs the card service; `insert`, `insert-psam`, `remove`, `pin` and `status` "
        "drive a running one. Slot 1 is the terminal's SAM slot. See docs/simulators/card.md."
    ),
    no_args_is_help=True,
)

_CONTROL_URL_HELP = "URL of a running `kioskctl sim card serve`."


@card_app.command("serve")
def serve(
    vpcd_host: str = typer.Option(
        "127.0.0.1", help="Host where pcscd's vpcd driver listens for virtual cards."
    ),
    vpcd_port: int = typer.Option(
        35963, help="vpcd port of slot 0 (reader 'Virtual PCD 00 00'); slot 1 uses port + 1."
    ),
    control_host: str = typer.Option("127.0.0.1", help="Address of the HTTP control API."),
    control_port: int = typer.Option(8700, help="Port of the HTTP control API."),
    seed: int = typer.Option(42, help="Seed of the synthetic population (as the central sim)."),
    population: int = typer.Option(5000, help="Size of the synthetic population."),
    log_level: str = typer.Option("INFO", help="Logging level."),
) -> None:
    """Run the virtual card service: two reader slots, controlled over HTTP.

    Cards are built from the same synthetic population as the central simulator, so a card's
    holder is known there. No card is in a reader until you `insert` one.
    """
    from common.logs import setup_logging
    from simulators.card.service import serve as run

    setup_logging(log_level.upper())
    run(
        vpcd_host=vpcd_host, vpcd_port=vpcd_port, control_host=control_host,
        control_port=control_port, seed=seed, population=population,
    )


@card_app.command("insert")
def insert(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_CONTROL_URL_HELP),
    citizen_index: int | None = typer.Option(
        None, help="The holder by population index (default 0 when no --citizen-id)."
    ),
    citizen_id: str | None = typer.Option(None, help="The holder by 18-character citizen ID."),
    generation: int | None = typer.Option(
        None, min=1, max=3,
        help="Card generation 1, 2 or 3 (default: the holder's card). Generation 3 keeps "
        "holder data behind PSAM authentication; generation 1 has no name extension.",
    ),
    protocol: str = typer.Option(
        "T=0", help="T=0 (answers 61xx / 6Cxx, as most social security cards) or T=1."
    ),
    pull_after_apdus: int | None = typer.Option(
        None, min=0, help="Misbehave: pull the card out when APDU number N+1 arrives."
    ),
    stall_after_apdus: int | None = typer.Option(
        None, min=0,
        help="Misbehave: answer N APDUs, then stop answering (until removed) mid-read.",
    ),
    latency_ms: float = typer.Option(0.0, min=0, help="Misbehave: delay every APDU answer."),
    mute: bool = typer.Option(False, "--mute", help="Misbehave: answer without a valid ATR."),
    locked: str | None = typer.Option(
        None, help="A blocked application: SELECT answers 6283 (deactivated) or 6A81 (blocked).",
    ),
    name: str | None = typer.Option(
        None, help="The name on the chip instead of the holder's (GB18030: 王䶮, Ext-B, ...); "
        "cut where it does not fit (30 bytes on generation 1, 50 on 2/3).",
    ),
    name_hex: str | None = typer.Option(
        None, help="Tag 09 as raw hex bytes (up to 30): a name that is no GB18030 text.",
    ),
    non_ssc: bool = typer.Option(
        False, "--non-ssc",
        help="Insert a card without the social security application (a bank card).",
    ),
    pin: str | None = typer.Option(None, help="The card's PIN, 4-12 digits (default 123456)."),
    pin_tries: int | None = typer.Option(
        None, min=0, max=3, help="PIN tries left (default 3); 0 locks the PIN (6983).",
    ),
    pin_locked: bool = typer.Option(
        False, "--pin-locked", help="The PIN is locked: no tries left (same as --pin-tries 0).",
    ),
    foreign_keys: bool = typer.Option(
        False, "--foreign-keys",
        help="A card with another issuer's keys: generation 3 authentication with our PSAM fails.",
    ),
    slot: int = typer.Option(0, min=0, max=1, help="Reader slot: 0 or 1 (1 is the SAM slot)."),
) -> None:
    """Insert a card (replacing any card in the slot) and print the slot's status."""
    if protocol not in ("T=0", "T=1"):
        raise typer.BadParameter("use T=0 or T=1", param_hint="--protocol")
    body: dict[str, Any] = {
        "protocol": protocol, "slot": slot, "latency_ms": latency_ms, "mute": mute,
        "kind": "non-ssc" if non_ssc else "ssc",
        "keys": "foreign" if foreign_keys else "good",
    }
    optional = {
        "pin": pin, "pin_tries": 0 if pin_locked else pin_tries,
        "citizen_index": citizen_index, "citizen_id": citizen_id, "generation": generation,
        "pull_after_apdus": pull_after_apdus, "stall_after_apdus": stall_after_apdus,
        "locked": locked.upper() if locked else None, "name": name, "name_hex": name_hex,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    _print(_call("POST", control_url, "/insert", body))


@card_app.command("insert-psam")
def insert_psam(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_CONTROL_URL_HELP),
    protocol: str = typer.Option("T=0", help="T=0 (as most PSAMs) or T=1."),
    foreign_keys: bool = typer.Option(
        False, "--foreign-keys", help="A PSAM with another issuer's keys: every card fails."
    ),
    slot: int = typer.Option(1, min=0, max=1, help="Reader slot (1: the SAM slot)."),
) -> None:
    """Put the terminal's PSAM into the SAM slot (generation 3 cards need it)."""
    if protocol not in ("T=0", "T=1"):
        raise typer.BadParameter("use T=0 or T=1", param_hint="--protocol")
    body = {
        "kind": "psam", "protocol": protocol, "slot": slot,
        "keys": "foreign" if foreign_keys else "good",
    }
    _print(_call("POST", control_url, "/insert", body))


@card_app.command("pin")
def pin_command(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_CONTROL_URL_HELP),
    set_pin: str | None = typer.Option(None, "--set", help="A new PIN for the card (4-12 digits)."),
    tries: int | None = typer.Option(None, min=0, max=3, help="Tries left (0 locks the PIN)."),
    lock: bool = typer.Option(False, "--lock", help="Lock the PIN (no tries left)."),
    unlock: bool = typer.Option(False, "--unlock", help="Unlock it (3 tries left)."),
    slot: int = typer.Option(0, min=0, max=1, help="Reader slot of the card."),
) -> None:
    """Set the PIN or its tries left on the card in a slot, as the issuer's counter would."""
    if sum((lock, unlock, tries is not None)) > 1:
        raise typer.BadParameter("give one of --tries, --lock and --unlock")
    body: dict[str, Any] = {"slot": slot}
    if set_pin is not None:
        body["pin"] = set_pin
    if lock or unlock or tries is not None:
        body["tries"] = 0 if lock else (3 if unlock else tries)
    _print(_call("POST", control_url, "/pin", body))


@card_app.command("remove")
def remove(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_CONTROL_URL_HELP),
    slot: int = typer.Option(0, min=0, max=1, help="Reader slot: 0 or 1."),
) -> None:
    """Take the card out of a slot (nothing happens if it is empty)."""
    _print(_call("POST", control_url, "/remove", {"slot": slot}))


@card_app.command("status")
def status(
    control_url: str = typer.Option(DEFAULT_CONTROL_URL, help=_CONTROL_URL_HELP),
) -> None:
    """Print both slots: which card is in, its generation and protocol, APDUs answered."""
    _print(_call("GET", control_url, "/status"))


def _call(method: str, base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call("card simulator", method, base_url, path, body, timeout=10)


def _print(payload: Any) -> None:
    print_json(payload)
