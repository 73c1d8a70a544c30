"""`kioskctl sim qr`: the phone side against a real central simulator process, the frames
command, and the control commands against a real `serve`."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest
from typer.testing import CliRunner

from drivers.qr.decode import make_decoder
from simulators.qr.cli import qr_app
from simulators.stack.ports import free_port
from tests.harness.waiting import wait_for

runner = CliRunner()


def last_json(output: str) -> dict:
    start = output.index("{")
    return json.loads(output[start:])


@pytest.fixture(scope="module")
def central():
    """A central simulator in-process over real HTTP (uvicorn on a free port)."""
    import threading

    import uvicorn

    from simulators.central.api import create_app
    from simulators.central.config import CentralSimConfig

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(CentralSimConfig(seed=3, population=200, api_key="k")),
        host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "central simulator up")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_phone_writes_a_png_with_a_verifiable_code(central, tmp_path):
    import httpx

    citizen = httpx.get(f"{central}/sim/v1/citizens?limit=1").json()["items"][0]
    png = tmp_path / "essc.png"
    result = runner.invoke(qr_app, ["phone", "--citizen-id", citizen["citizen_id"],
                                    "--device-id", "kiosk-01", "--central", central,
                                    "--png", str(png)])
    assert result.exit_code == 0, result.output
    token = last_json(result.output)["token"]
    image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    assert make_decoder("zxing").decode(image)[0].payload == token.encode()
    r = httpx.post(f"{central}/central/v1/ecard-tokens/verify",
                   json={"token": token, "device_id": "kiosk-01"},
                   headers={"Authorization": "Bearer k"})
    assert r.status_code == 200 and r.json()["citizen_id"] == citizen["citizen_id"]


def test_phone_reports_an_unknown_citizen(central):
    result = runner.invoke(qr_app, ["phone", "--citizen-id", "nobody", "--central", central])
    assert result.exit_code == 1 and "404" in result.output


def test_frames_writes_a_camera_folder(tmp_path):
    result = runner.invoke(qr_app, ["frames", str(tmp_path / "f"), "--count", "3", "--seed",
                                    "2"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "f").glob("*.png"))) == 3


def test_serve_and_drive_it_from_the_cli(tmp_path):
    port = free_port()
    link = tmp_path / "qr"
    process = subprocess.Popen(
        [sys.executable, "-m", "kioskctl", "sim", "qr", "serve", "--port", str(port),
         "--link", str(link), "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: runner.invoke(qr_app, ["status", "--url", url]).exit_code == 0,
                 "qr simulator up", timeout=30)
        assert link.is_symlink()
        result = runner.invoke(qr_app, ["scan", "TOKEN-X", "--split", "2", "--url", url])
        assert result.exit_code == 0 and last_json(result.output)["scans"] == 1
        assert runner.invoke(qr_app, ["unplug", "--url", url]).exit_code == 0
        assert not link.exists()
        result = runner.invoke(qr_app, ["scan", "TOKEN-Y", "--url", url])
        assert result.exit_code == 1 and "409" in result.output
        assert runner.invoke(qr_app, ["replug", "--url", url]).exit_code == 0
        assert link.is_symlink()
    finally:
        process.terminate()
        process.wait(10)


def test_the_stack_spec_runs_serve_on_the_link(tmp_path):
    from simulators.qr.service import stack_spec

    service = stack_spec(tmp_path / "qr", port=free_port())
    argv = service.spec.argv
    assert argv[argv.index("qr"):][:2] == ["qr", "serve"]
    assert str(tmp_path / "qr") in argv
