"""The e-SSC code held to the terminal's camera, through the real processes: the camera
simulator shows the phone's code on its MJPEG stream, the kiosk (offscreen) reads that one
stream for its camera and its camera QR scanner, decodes only while its attract screen asks
for the code (with the camera preview), and the edge opens exactly one session per code."""

from __future__ import annotations

import httpx
import pytest

from simulators.demo.journey import choose_cast
from simulators.stack.stack import Stack
from tests.e2e.conftest import edge_sessions
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

WITH_CAMERA = True
# The QR scanner is the camera (drivers/qr/scanners.py); the face engine is not needed here.
# Its debounce stays (2 s): a code held still is read once, not once per frame.
KIOSK_ENV = {"KIOSK_PERIPHERALS__QR": "simulated",
             "KIOSK_PERIPHERAL_OPTIONS__QR__SCANNER": "camera",
             "KIOSK_PERIPHERALS__FACE": "absent"}


def _camera(stack: Stack, method: str, path: str, body: dict | None = None) -> dict:
    response = httpx.request(method, f"{stack.camera.url}{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    result: dict = response.json()
    return result


def _rendered(stack: Stack) -> int:
    return int(_camera(stack, "GET", "/sim/v1/scene")["frames"])


def test_the_code_shown_to_the_camera_opens_one_session_and_only_on_the_attract_screen(
        at_rest: Stack) -> None:
    stack = at_rest
    kiosk, central = stack.kiosk_client(), stack.central_client()
    pensioner = central.citizen(choose_cast(central).pensioner)
    wait_for(lambda: "摄像头" in "".join(kiosk.texts()),
             "the attract screen to offer the code at the camera", timeout=40)
    before = len(edge_sessions(stack))
    token = central.ecard_token(pensioner["citizen_id"], device_id=stack.options.device_id)
    try:
        _camera(stack, "PUT", "/sim/v1/qr", {"text": token, "seed": 1})
        kiosk.wait_screen("home", timeout=40)
        assert kiosk.status()["session_active"] is True
        assert len(edge_sessions(stack)) == before + 1
        # The camera kind and the QR scanner read one stream: the kiosk opened it once.
        assert _camera(stack, "GET", "/sim/v1/health")["clients"] == 1

        # In session the scanner does not decode: a new code in front of the lens is not read
        # while 2 s of frames go by (the simulator renders only for a client that reads) ...
        second = central.ecard_token(pensioner["citizen_id"],
                                     device_id=stack.options.device_id)
        _camera(stack, "PUT", "/sim/v1/qr", {"text": second, "seed": 2})
        shown_at = _rendered(stack)
        wait_for(lambda: _rendered(stack) >= shown_at + 30, "2 s of frames with the new code")
        assert kiosk.status()["session_active"] is True
        assert len(edge_sessions(stack)) == before + 1
        # ... and is once the attract screen asks again.
        kiosk.tap("home.end")
        wait_for(lambda: len(edge_sessions(stack)) == before + 2,
                 "the code still held up to be read at the attract screen", timeout=40)
        kiosk.wait_screen("home", timeout=40)
    finally:
        _camera(stack, "PUT", "/sim/v1/scene", {"persona": "empty"})
    kiosk.tap("home.end")
    kiosk.wait_screen("attract", timeout=40)
