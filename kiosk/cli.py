"""`kioskctl kiosk`: the citizen-facing app. Imports only typer at import time; Kivy is loaded
inside the command, after its environment variables are set."""

from __future__ import annotations

from pathlib import Path

import typer


def kiosk_command(
    config: Path | None = typer.Option(
        None, "--config", help="Device TOML file (tables \\[device] and \\[kiosk]). Default:"
        " $HRSS_CONFIG, else /etc/hrss-kiosk/device.toml if present. KIOSK_* environment"
        " variables override it (KIOSK_DEVICE_ID, KIOSK_EDGE_URL, KIOSK_STATUS_PORT, ...).",
    ),
    automation: bool = typer.Option(
        False, "--automation", help="Enable the loopback automation hooks (/automation/wait,"
        " tap, screenshot, texts) on the status port. Tests and the demo only.",
    ),
    screenshots: Path | None = typer.Option(
        None, "--screenshots", metavar="DIR", help="Save a PNG of every screen shown into DIR"
        " (NNN-<screen>.png). Screens show citizen data: simulated cards only.",
    ),
) -> None:
    """Run the self-service kiosk app (Kivy) on this terminal's screen.

    Without a display, set SDL_VIDEODRIVER=offscreen. SIGTERM stops it cleanly and ends any open session at the edge server.
    """  # noqa: E501 (typer keeps docstring line breaks in --help)
    from pydantic import ValidationError

    from common.logs import setup_logging
    from kiosk.settings import KioskSettings

    overrides: dict[str, object] = {}
    if automation:
        overrides["automation"] = True
    if screenshots is not None:
        overrides["screenshots_dir"] = screenshots.resolve()
    try:
        settings = KioskSettings.load(config, **overrides)
    except (ValidationError, FileNotFoundError) as exc:
        typer.echo(f"kiosk: invalid configuration:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    setup_logging(settings.log_level)

    from kiosk.runtime import run_kiosk

    raise typer.Exit(run_kiosk(settings))
