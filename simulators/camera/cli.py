"""`kioskctl sim camera ...`: run the camera simulator and drive it.

Only typer is imported at module level, so `kioskctl --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer

from simulators.control_cli import call, print_json

DEFAULT_URL = "http://127.0.0.1:8710"

camera_app = typer.Typer(
    help=(
        "A simulated camera: scripted personas (a live person, photo and replay spoofs, an "
        "impostor, an empty scene, two people, darkness) served as an MJPEG camera.\n\n"
        "`serve` runs it; `scene`, `qr`, `act` and `status` drive a running one. The kiosk reads "
        "http://HOST:PORT/stream.mjpg with its camera driver. See docs/simulators/camera.md."
    ),
    no_args_is_help=True,
)

_URL_HELP = "URL of a running `kioskctl sim camera serve`."


@camera_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8710, min=1, max=65535, help="Port of the stream and control API."),
    fps: float = typer.Option(15.0, min=1, max=60, help="Frames per second of the stream."),
    persona: str = typer.Option("empty", help="The scene it starts with."),
    identity: str = typer.Option("a", help="Who the persona is: a or b."),
    seed: int = typer.Option(0, min=0, help="Seed of the persona's motion."),
    log_level: str = typer.Option("INFO", help="Logging level."),
) -> None:
    """Serve GET /stream.mjpg and the control API under /sim/v1."""
    from pydantic import ValidationError

    from common.logs import setup_logging
    from common.problem import Problem
    from simulators.camera.service import SceneRequest
    from simulators.camera.service import serve as run

    setup_logging(log_level.upper())
    try:
        initial = SceneRequest(persona=persona, identity=identity, seed=seed)  # type: ignore[arg-type]
        run(host=host, port=port, fps=fps, initial=initial)
    except (ValidationError, Problem) as exc:
        typer.echo(f"bad scene: {exc}", err=True)
        raise typer.Exit(2) from exc


@camera_app.command("scene")
def scene(
    persona: str = typer.Argument(..., help="live, photo-still, photo-moved, replay, impostor, "
                                  "empty, two-people, dark or swap."),
    identity: str = typer.Option("a", help="Who the persona is: a or b."),
    seed: int = typer.Option(0, min=0, help="Seed of the persona's motion."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Put a new scene in front of the camera (its clock starts at 0; nothing is asked)."""
    _print(_call("PUT", url, "/sim/v1/scene",
                 {"persona": persona, "identity": identity, "seed": seed}))


@camera_app.command("qr")
def qr(
    text: str = typer.Argument(..., help="What the code holds (an e-card token, any text)."),
    seed: int = typer.Option(0, min=0, help="Where the phone is held, the hall behind it."),
    module_px: float = typer.Option(6.0, min=3, max=12, help="Pixels per module: how near."),
    tilt_deg: float = typer.Option(10.0, min=0, max=40, help="The phone held at an angle."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Hold a phone showing TEXT as a QR code in front of the camera (until the next scene)."""
    _print(_call("PUT", url, "/sim/v1/qr", {"text": text, "seed": seed,
                                             "module_px": module_px, "tilt_deg": tilt_deg}))


@camera_app.command("act")
def act(
    action: str = typer.Argument(..., help="turn-left, turn-right, nod, open-mouth, blink, "
                                 "or none."),
    url: str = typer.Option(DEFAULT_URL, help=_URL_HELP),
) -> None:
    """Tell the person what the kiosk just asked (only the live-like personas obey)."""
    _print(_call("POST", url, "/sim/v1/act", {"action": None if action == "none" else action}))


@camera_app.command("status")
def status(url: str = typer.Option(DEFAULT_URL, help=_URL_HELP)) -> None:
    """Print the scene (persona, action, seconds since it was set, frames) and the health."""
    _print({"scene": _call("GET", url, "/sim/v1/scene"),
            "health": _call("GET", url, "/sim/v1/health")})


def _call(method: str, base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    # A new scene may take a while: a face persona finds the landmarks of its photos.
    return call("camera simulator", method, base_url, path, body, timeout=120)


def _print(payload: Any) -> None:
    print_json(payload)
