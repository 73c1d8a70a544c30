"""`kioskctl provision ...`: hall secrets and device files."""

from __future__ import annotations

from pathlib import Path

import typer

provision_app = typer.Typer(
    help="Provision terminals: hall enrolment secrets and per-device files.", no_args_is_help=True
)


@provision_app.command("hall-secret")
def hall_secret(
    out: Path = typer.Option(..., help="Where to write the new secret (created 0600)."),
) -> None:
    """Create a hall's enrolment secret; give it to the hall's edge server (edge.hall_secret)."""
    from common.files import create_once
    from provisioning.device_credentials import new_hall_secret

    # create_once, not a check then a write: two provisioners at once cannot both "win".
    if not create_once(out, (new_hall_secret() + "\n").encode(), mode=0o600):
        typer.echo(f"{out} exists; refusing to replace a hall secret in use", err=True)
        raise typer.Exit(1)
    typer.echo(f"wrote {out}")


@provision_app.command("device")
def device(
    device_id: str = typer.Option(..., help="The terminal's id, e.g. T-110105-0001."),
    site: str = typer.Option(..., help="The hall (site) it stands in."),
    hall_secret_file: Path = typer.Option(..., help="The hall's enrolment secret file."),
    edge_url: str = typer.Option("http://127.0.0.1:8200", help="The hall's edge server."),
    broker_url: str = typer.Option("mqtt://127.0.0.1:1883", help="The fleet's MQTT broker."),
    out: Path = typer.Option(..., help="Device file to write (TOML, 0600)."),
    token_ttl_days: int = typer.Option(
        90, min=1, max=3650, help="Days the edge credential is valid (the edge renews it)."
    ),
) -> None:
    """Write a terminal's device file: identity, edge credential, broker address."""
    import datetime as dt

    from provisioning.device_credentials import InvalidDeviceId
    from provisioning.device_file import DeviceProfile, write

    secret = hall_secret_file.read_text().strip()
    try:
        write(out, DeviceProfile(device_id, site, edge_url, broker_url), secret,
              token_ttl=dt.timedelta(days=token_ttl_days))
    except InvalidDeviceId as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {out}")
