"""CameraQrScanner on the real camera driver (OpenCvCamera on a folder of generated frames)
with each real decoder."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from drivers.base import HealthState
from drivers.camera.opencv import OpenCvCamera
from drivers.qr.camera import CameraQrScanner
from drivers.qr.decode import BACKENDS
from drivers.qr.interface import CodeScanned, QrScanner
from simulators.qr.frames import Degradation, FrameGenerator
from tests.drivers.qr.test_serial import Events

TOKEN = "AgAAAAEAAAAAaXBhc3N3b3JkMTIzNDU2Nzg5MGFiY2RlZg-_x"


def write_frames(folder: Path, payloads: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    generator = FrameGenerator(seed=2)
    for i, payload in enumerate(payloads):
        frame = generator.render(payload, Degradation(module_px=7, tilt_deg=10))
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


@pytest.mark.parametrize("backend", BACKENDS)
def test_codes_in_front_of_the_camera_are_published_once(tmp_path, backend):
    folder = write_frames(tmp_path / "frames", [TOKEN, TOKEN, TOKEN, "second-code-123"])
    scanner = CameraQrScanner(source=str(folder), backend=backend, debounce_s=60.0, fps=30)
    assert isinstance(scanner, QrScanner)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        events.health(HealthState.OK, timeout=10)
        payloads = {events.next(CodeScanned, timeout=10).payload for _ in range(2)}
        assert payloads == {TOKEN.encode(), b"second-code-123"}
        assert scanner.stats()["debounced"] >= 1
    finally:
        scanner.stop()
    assert scanner.camera.latest_frame() is None, "an owned camera is stopped with it"


def test_a_shared_camera_is_neither_started_nor_stopped(tmp_path):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    camera = OpenCvCamera(str(folder), width=1280, height=720, fps=30)
    camera.start()
    scanner = CameraQrScanner(camera)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        assert events.next(CodeScanned, timeout=10).payload == TOKEN.encode()
        scanner.stop()
        assert camera.next_frame(timeout_s=5) is not None, "the camera still runs"
    finally:
        scanner.stop()
        camera.stop()


def test_a_missing_camera_is_a_missing_scanner(tmp_path):
    scanner = CameraQrScanner(source=str(tmp_path / "nothing-here"))
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        event = events.health(HealthState.MISSING, timeout=10)
        assert event.health.code == "scanner-missing"
    finally:
        scanner.stop()


def test_a_failing_decoder_is_a_scanner_error(tmp_path):
    class Broken:
        name = "broken"

        def decode(self, pixels):
            raise RuntimeError("boom")

    folder = write_frames(tmp_path / "frames", [TOKEN])
    scanner = CameraQrScanner(source=str(folder), decoder=Broken())
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        event = events.health(HealthState.MISSING, timeout=10)
        assert event.health.code == "scanner-error"
    finally:
        scanner.stop()
