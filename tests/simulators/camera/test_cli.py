"""`kioskctl sim camera ...`: `serve` as a real process (through kioskctl), driven by the CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from simulators.camera.cli import camera_app
from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised


@pytest.fixture(scope="module")
def camera_service(tmp_path_factory) -> Iterator[services.HttpService]:
    with supervised(tmp_path_factory.mktemp("camera-sim-cli") / "logs") as sup:
        try:
            service = services.camera_sim(fps=5, persona="dark", seed=4)
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(camera_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_serve_starts_with_the_scene_it_was_given(camera_service) -> None:
    code, out, _ = run("status", "--url", camera_service.url)
    assert code == 0
    status = json.loads(out)
    assert status["scene"] | {"t": 0} == {
        "persona": "dark", "identity": "a", "seed": 4, "width": 640, "height": 480,
        "action": None, "t": 0, "frames": status["scene"]["frames"], "qr_chars": None,
    }
    assert status["health"]["status"] == "ok" and status["health"]["fps"] == 5


def test_scene_and_act_drive_the_running_simulator(camera_service) -> None:
    url = camera_service.url
    code, out, _ = run("scene", "live", "--identity", "b", "--seed", "9", "--url", url)
    assert code == 0 and json.loads(out)["persona"] == "live"
    code, out, _ = run("act", "blink", "--url", url)
    assert code == 0 and json.loads(out)["action"] == "blink"
    code, out, _ = run("act", "none", "--url", url)
    assert code == 0 and json.loads(out)["action"] is None
    scene = json.loads(run("status", "--url", url)[1])["scene"]
    assert (scene["persona"], scene["identity"], scene["seed"]) == ("live", "b", 9)


def test_mistakes_are_explained_and_change_nothing(camera_service) -> None:
    url = camera_service.url
    before = json.loads(run("status", "--url", url)[1])["scene"]["persona"]
    code, _, err = run("scene", "ghost", "--url", url)
    assert code == 1 and "422 No such persona" in err
    code, _, err = run("act", "dance", "--url", url)
    assert code == 1 and "422" in err and "action" in err
    assert json.loads(run("status", "--url", url)[1])["scene"]["persona"] == before


def test_an_absent_simulator_is_reported() -> None:
    code, _, err = run("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "camera simulator not reachable" in err


def test_serve_refuses_a_scene_it_cannot_draw() -> None:
    result = subprocess.run(
        services.kioskctl("sim", "camera", "serve", "--port", str(free_port()),
                          "--persona", "ghost"),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2 and "bad scene" in result.stderr


def test_qr_holds_a_phone_with_the_code_in_front_of_the_camera(camera_service) -> None:
    url = camera_service.url
    code, out, _ = run("qr", "eSSC_cli-token-0123456789", "--seed", "3", "--url", url)
    assert code == 0, out
    shown = json.loads(out)
    assert shown["persona"] == "qr" and shown["qr_chars"] == 25
    code, _, err = run("qr", "x", "--module-px", "50", "--url", url)
    assert code != 0 and "module" in (err + _).lower()
