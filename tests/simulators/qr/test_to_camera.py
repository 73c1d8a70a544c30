"""The phone's code shown to the camera simulator, a real process, read over its MJPEG stream by
the production drivers as the kiosk builds them: the camera kind and the camera QR scanner share
one stream, and the scanner decodes the token only while it is asked to."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from drivers.base import HealthState
from drivers.qr.camera import CameraQrScanner
from drivers.qr.interface import CodeScanned
from drivers.registry import REGISTRY
from simulators.qr.cli import qr_app
from simulators.stack import services
from simulators.stack.supervisor import ProcessFailed
from tests.drivers.qr.test_serial import Events
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for
from tests.simulators.qr.test_cli import central, last_json

__all__ = ["central"]  # the fixture, shared with the CLI tests


@pytest.fixture(scope="module")
def camera_service(tmp_path_factory) -> Iterator[services.HttpService]:
    with supervised(tmp_path_factory.mktemp("camera-sim-qr") / "logs") as sup:
        try:
            service = services.camera_sim(fps=15, persona="empty")
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


def test_the_phones_code_held_to_the_camera_is_decoded_through_the_shared_stream(
        central, camera_service) -> None:
    stream = f"{camera_service.url}/stream.mjpg"
    face_camera = REGISTRY.build("camera", "simulated", source=stream)
    scanner = REGISTRY.build("qr", "simulated", scanner="camera", source=stream, debounce_s=0)
    assert isinstance(scanner, CameraQrScanner)
    events = Events()
    scanner.subscribe(events)
    face_camera.start()
    scanner.start()
    try:
        events.health(HealthState.OK, timeout=30)
        citizen = httpx.get(f"{central}/sim/v1/citizens?limit=1").json()["items"][0]
        result = CliRunner().invoke(qr_app, [
            "phone", "--citizen-id", citizen["citizen_id"], "--device-id", "kiosk-01",
            "--central", central, "--to-camera", "--camera-url", camera_service.url])
        assert result.exit_code == 0, result.output
        answer = last_json(result.output)
        assert answer["shown_to_camera"] is True
        scene = httpx.get(f"{camera_service.url}/sim/v1/scene").json()
        assert scene["persona"] == "qr" and scene["qr_chars"] == len(answer["token"])
        assert answer["token"] not in str(scene)

        release = scanner.demand()
        try:
            scanned = events.next(CodeScanned, timeout=30)
        finally:
            release()
        assert scanned.payload == answer["token"].encode()
        # Both drivers read one stream: the simulator streams to one client.
        health = httpx.get(f"{camera_service.url}/sim/v1/health").json()
        assert health["clients"] == 1, health
    finally:
        scanner.stop()
        face_camera.stop()
        httpx.put(f"{camera_service.url}/sim/v1/scene", json={"persona": "empty"})
    wait_for(lambda: httpx.get(f"{camera_service.url}/sim/v1/health").json()["clients"] == 0,
             "the stream to be let go once both stopped")
