"""`kioskctl sim qr ...`: the pty QR scanner, the phone side, and camera frames with codes.

Only typer is imported at module level, so `kioskctl --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from simulators.control_cli import call, print_json

DEFAULT_URL = "http://127.0.0.1:8712"
DEFAULT_CENTRAL = "http://127.0.0.1:8100"  # `kioskctl central-sim`
DEFAULT_CAMERA = "http://127.0.0.1:8710"  # `kioskctl sim camera serve`

qr_app = typer.Typer(
    help=(
        "A simulated serial QR scanner on a pty (the kiosk's driver opens its link like "
        "/dev/ttyACM0), the citizen's phone showing an e-card code from the central simulator, "
        "and camera frames with degraded codes.\n\n`serve` runs the scanner; `scan`, `noise`, "
        "`unplug`, `replug` and `status` drive a running one; `phone` gets a code; `frames` "
        "writes camera frames. See docs/simulators/qr.md."
    ),
    no_args_is_help=True,
)

_URL_HELP = "URL of a running `kioskctl sim qr serve`."


@qr_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address of the control API."),
    port: int = typer.Option(8712, min=1, max=65535, help="Port of the control API."),
    link: str = typer.Option("", help="Path of the link to the pty (default: the simulated "
                             "driver's port, $HRSS_SIM_QR_LINK or <tmp>/hrss-sim/qr-scanner)."),
    seed: int = typer.Option(0, min=0, help="Seed of the line noise."),
    log_level: str = typer.Option("INFO", help="Logging level."),
) -> None:
    """Make the pty and its link, and serve the control API under /sim/v1."""
    from common.logs import setup_logging
    from simulators.qr.service import serve as run

    setup_logging(log_level.upper())
    run(host=host, port=port, link=link or None, seed=seed)


@qr_app.command("scan")
def scan(
    text: str = typer.Argument(..., help="What the scanner read (an e-card token, any text)."),
    terminator: str = typer.Option("CR", help="CR, LF or CRLF."),
    prefix: str = typer.Option("", help="Bytes before the code (as the scanner is set up)."),
    suffix: str = typer.Option("", help="Bytes after the code."),
    split: int = typer.Option(1, min=1, max=64, help="Send the frame in this many pieces."),
    gap_ms: int = typer.Option(0, min=0, max=2000, help="Pause between the pieces."),
    noise_before: int = typer.Option(0, min=0, max=4096, help="Noise bytes glued before it."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Type one code into the pty as the scanner would."""
    print_json(_call("POST", url, "/sim/v1/scan", {
        "text": text, "terminator": terminator.upper(), "prefix": prefix, "suffix": suffix,
        "split": split, "gap_ms": gap_ms, "noise_before": noise_before}))


@qr_app.command("noise")
def noise(count: int = typer.Argument(..., min=1, max=65536, help="Bytes of line noise."),
          url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Send seeded line noise (never CR or LF)."""
    print_json(_call("POST", url, "/sim/v1/noise", {"bytes": count}))


@qr_app.command("unplug")
def unplug(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Pull the cable: the link goes and the driver's reads fail."""
    print_json(_call("POST", url, "/sim/v1/unplug"))


@qr_app.command("replug")
def replug(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Plug it back in: a new pty behind the same link."""
    print_json(_call("POST", url, "/sim/v1/replug"))


@qr_app.command("status")
def status(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Print whether it is plugged in, its link and pty, and how many scans were sent."""
    print_json(_call("GET", url, "/sim/v1/status"))


@qr_app.command("phone")
def phone(
    citizen_id: str = typer.Option(..., help="Whose e-card (an ID of the central simulator)."),
    device_id: str = typer.Option("", help="Issue the code for this terminal only."),
    ttl_s: int = typer.Option(60, min=1, max=60, help="Seconds the code lives."),
    central: str = typer.Option(DEFAULT_CENTRAL, help="URL of the central simulator."),
    png: Path | None = typer.Option(None, help="Write the QR code to this PNG file."),
    window: bool = typer.Option(False, help="Show the QR code in a window (needs a display)."),
    scan_it: bool = typer.Option(False, "--scan", help="Also type it into the running pty "
                                 "scanner (as if held to it)."),
    to_camera: bool = typer.Option(False, "--to-camera", help="Also hold it in front of the "
                                   "running camera simulator (a camera QR scanner decodes it)."),
    camera_url: str = typer.Option(DEFAULT_CAMERA, help="URL of a running `kioskctl sim "
                                   "camera serve` (for --to-camera)."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Ask central for an e-card code, as the citizen's app does, and show it."""
    from simulators.qr import phone as phone_side

    try:
        answer = phone_side.issue_token(central, citizen_id, device_id=device_id or None,
                                        ttl_s=ttl_s)
    except phone_side.PhoneError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    token = answer["token"]
    out: dict[str, Any] = {"token": token, "expires_at": answer.get("expires_at")}
    if png is not None:
        out["png"] = str(phone_side.write_png(token, png))
    if scan_it:
        _call("POST", url, "/sim/v1/scan", {"text": token})
        out["scanned"] = True
    if to_camera:
        call("camera simulator", "PUT", camera_url, "/sim/v1/qr", {"text": token}, timeout=15)
        out["shown_to_camera"] = True
    print_json(out)
    if window:
        try:
            phone_side.show_window(token, seconds=ttl_s)
        except Exception as exc:  # tkinter.TclError: no display
            typer.echo(f"no window ({exc}); use --png", err=True)
            raise typer.Exit(1) from exc


@qr_app.command("frames")
def frames(
    out: Path = typer.Argument(..., help="Folder for the PNG frames (made if missing)."),
    count: int = typer.Option(20, min=1, max=5000, help="How many frames."),
    seed: int = typer.Option(0, min=0, help="Same seed, same frames."),
    text: str = typer.Option("", help="Put this payload in every frame (default: random "
                             "tokens)."),
) -> None:
    """Write seeded, degraded 1280x720 camera frames with codes (a camera source folder)."""
    import cv2

    from simulators.qr.frames import FrameGenerator

    out.mkdir(parents=True, exist_ok=True)
    generator = FrameGenerator(seed)
    index = []
    for i in range(count):
        payload = text or generator.token()
        degradation = generator.random_degradation()
        pixels = generator.render(payload, degradation)
        name = f"{i:05d}.png"
        cv2.imwrite(str(out / name), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        index.append({"file": name, "payload": payload, **degradation.as_dict()})
    print_json({"frames": count, "folder": str(out), "index": index[:3], "more": count > 3})


def _call(method: str, base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call("qr scanner simulator", method, base_url, path, body, timeout=15)
