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
    register_key_with: str | None = typer.Option(
        None, help="Central (simulator) URL to register the signing key's public half with."
    ),
) -> None:
    """Write a terminal's device file (identity, edge credential, broker address) and its
    signing key beside it (kept if it exists)."""
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
    _signing_key(out, device_id, register_key_with)


def _signing_key(device_file: Path, device_id: str, central_url: str | None) -> None:
    from provisioning.device_keys import RegistrationFailed, ensure_key, key_path, register_key

    public = ensure_key(device_file)
    typer.echo(f"signing key {key_path(device_file)} (public {public})")
    if central_url:
        try:
            register_key(central_url, device_id, public)
        except RegistrationFailed as exc:
            typer.echo(f"could not register the signing key: {exc}", err=True)
            raise typer.Exit(3) from exc
        typer.echo(f"registered the signing key with {central_url}")


# -- field staff (kiosk field mode: provisioning/staff.py) ---------------------------------------
staff_app = typer.Typer(help="Field staff credentials on a terminal (checked offline).",
                        no_args_is_help=True)
provision_app.add_typer(staff_app, name="staff")


@staff_app.command("add")
def staff_add(
    staff_id: str = typer.Option(..., help="The staff member's ID."),
    file: Path = typer.Option(..., help="The terminal's staff file (kiosk.field_staff_file)."),
    valid_days: int = typer.Option(30, min=1, max=366, help="Days until the credential expires."),
    pin: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                            help="6-12 digits; asked when not given."),
) -> None:
    """Add (or replace) a staff member's PIN and expiry; the PIN is stored only as a hash."""
    from provisioning.staff import StaffFileError, add

    try:
        cred = add(file, staff_id, pin, valid_days=valid_days)
    except StaffFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{cred.staff_id} valid until {cred.expires_at:%Y-%m-%d %H:%M}Z in {file}")


@staff_app.command("list")
def staff_list(
    file: Path = typer.Option(..., help="The terminal's staff file."),
) -> None:
    """The staff IDs on the terminal and their expiry (never a hash)."""
    from common.clock import utc_now
    from provisioning.staff import StaffFileError, load

    try:
        creds = load(file)
    except StaffFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    now = utc_now()
    for cred in sorted(creds.values(), key=lambda c: c.staff_id):
        state = "expired" if cred.expired(now) else "valid"
        typer.echo(f"{cred.staff_id}\t{cred.expires_at:%Y-%m-%d %H:%M}Z\t{state}")


# -- the document-signing CA (certificates the edge issues: provisioning/ca.py) ------------------
ca_app = typer.Typer(help="The province's document-signing CA and its offices' certificates.",
                     no_args_is_help=True)
provision_app.add_typer(ca_app, name="ca")


@ca_app.command("init")
def ca_init(
    directory: Path = typer.Option(..., "--dir", help="The CA's directory (root key 0600)."),
    name: str = typer.Option(..., help="The province authority, e.g. XX省人力资源和社会保障厅."),
) -> None:
    """Create the root; refuses to replace one that exists."""
    from provisioning.ca import CaError, init_ca

    try:
        cert = init_ca(directory, name)
    except CaError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {cert} (and its key, 0600)")


@ca_app.command("issue-office")
def ca_issue_office(
    directory: Path = typer.Option(..., "--dir", help="The CA's directory."),
    office_id: str = typer.Option(..., help="The office's id, e.g. 110100."),
    name: str = typer.Option(..., help="The office, e.g. XX市社会保险事业管理中心."),
    out_dir: Path = typer.Option(..., help="Where the office's key, certificate and root go."),
) -> None:
    """An office's document-signing key and certificate for its edge server."""
    from provisioning.ca import CaError, issue_office

    try:
        files = issue_office(directory, out_dir, office_id, name)
    except CaError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {files.key} (0600), {files.cert}, {files.root}")
    typer.echo(f"edge: certificate_office_key_file={files.key} "
               f"certificate_office_cert_file={files.cert} certificate_root_file={files.root}")
