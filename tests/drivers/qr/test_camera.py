"""CameraQrScanner on the real camera driver (OpenCvCamera on a folder of generated frames)
with each real decoder: decoding on demand, a bad frame alone, a prompt stop(), the camera
shared with the camera kind, and the scanner and decoder chosen by configuration."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import pytest

from drivers.base import HealthState
from drivers.camera.opencv import DEFAULT_SIMULATOR_URL, OpenCvCamera
from drivers.qr.camera import STOP_JOIN_S, CameraQrScanner
from drivers.qr.decode import BACKENDS, make_decoder
from drivers.qr.interface import CodeScanned, QrScanner
from drivers.qr.serial import SerialQrScanner
from drivers.registry import REGISTRY
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


class Counting:
    """The real zxing decoder, counting its calls; `fail_first` frames raise instead."""

    name = "zxing"

    def __init__(self, fail_first: int = 0) -> None:
        self._real = make_decoder("zxing")
        self.calls = 0
        self._fail = fail_first
        self.lock = threading.Lock()

    def decode(self, pixels):
        with self.lock:
            self.calls += 1
            failing = self.calls <= self._fail
        if failing:
            raise RuntimeError("a frame the library chokes on")
        return self._real.decode(pixels)


def frames_pass(camera, count: int) -> None:
    """Wait until the camera has captured `count` more frames (time passing, observed)."""
    after = None
    for _ in range(count):
        frame = camera.next_frame(after, timeout_s=10)
        assert frame is not None
        after = frame.sequence


def test_on_demand_it_decodes_only_while_demanded(tmp_path):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    decoder = Counting()
    scanner = CameraQrScanner(source=str(folder), decoder=decoder, on_demand=True,
                              debounce_s=0.0, fps=30)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        # Undemanded, it still says whether the camera is there (the kiosk offers QR by it).
        assert events.health(HealthState.OK, timeout=10).health.reason.startswith("ready")
        frames_pass(scanner.camera, 10)
        assert decoder.calls == 0 and not scanner.decoding
        assert events.queue.empty(), "nothing scanned while nobody asked"

        release = scanner.demand()
        assert scanner.decoding
        assert events.next(CodeScanned, timeout=10).payload == TOKEN.encode()
        release()
        release()  # a second release is no second one
        assert not scanner.decoding
        frames_pass(scanner.camera, 3)  # the frame being decoded at release finishes
        after_release = decoder.calls
        frames_pass(scanner.camera, 10)
        assert decoder.calls == after_release
    finally:
        scanner.stop()


def test_demands_add_up(tmp_path):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    scanner = CameraQrScanner(source=str(folder), on_demand=True)
    scanner.start()
    try:
        first, second = scanner.demand(), scanner.demand()
        first()
        assert scanner.decoding
        second()
        assert not scanner.decoding
    finally:
        scanner.stop()
    assert not scanner.decoding, "stopped: not decoding, whatever is demanded"


def test_a_bad_frame_is_counted_alone_and_the_next_one_decodes(tmp_path):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    decoder = Counting(fail_first=1)
    scanner = CameraQrScanner(source=str(folder), decoder=decoder, debounce_s=60.0, fps=30)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        assert events.health(HealthState.MISSING, timeout=10).health.code == "scanner-error"
        # Back to ok with the next frame, which is decoded as if nothing had happened.
        assert events.health(HealthState.OK, timeout=10).health.code == "ok"
        assert events.next(CodeScanned, timeout=10).payload == TOKEN.encode()
        stats = scanner.stats()
        assert stats["decode-errors"] == 1 and stats["scanned"] == 1
        assert stats["frames"] >= 2
    finally:
        scanner.stop()


class Stuck:
    """A decoder that never returns until told (a library hung on a frame)."""

    name = "stuck"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.let_go = threading.Event()

    def decode(self, pixels):
        self.entered.set()
        self.let_go.wait(30)
        return []


@pytest.mark.parametrize("state", ["idle", "decoding", "stuck"])
def test_stop_returns_promptly(tmp_path, state):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    stuck = Stuck()
    scanner = CameraQrScanner(source=str(folder), on_demand=state == "idle",
                              decoder=stuck if state == "stuck" else None)
    events = Events()
    scanner.subscribe(events)
    scanner.start()
    try:
        if state == "stuck":
            assert stuck.entered.wait(10)
        else:
            events.health(HealthState.OK, timeout=10)
        began = time.monotonic()
        scanner.stop()
        assert time.monotonic() - began < STOP_JOIN_S + 0.5
        assert scanner.camera.latest_frame() is None
    finally:
        stuck.let_go.set()
        scanner.stop()


def test_the_scanner_shares_the_camera_kinds_driver_of_its_device(tmp_path):
    folder = write_frames(tmp_path / "frames", [TOKEN])
    face_camera = REGISTRY.build("camera", "real", source=str(folder), fps=30)
    scanner = REGISTRY.build("qr", "real", scanner="camera", source=str(folder))
    assert isinstance(scanner, CameraQrScanner) and scanner.on_demand
    assert scanner.camera.owner is face_camera.owner
    assert face_camera.owner._options == {"fps": 30}, "the camera kind's settings win"
    events = Events()
    scanner.subscribe(events)
    face_camera.start()
    scanner.start()
    try:
        release = scanner.preview.demand()
        assert events.next(CodeScanned, timeout=10).payload == TOKEN.encode()
        assert scanner.preview() is not None, "the preview is the shared camera's frame"
        release()
        scanner.stop()
        frames_pass(face_camera, 3)  # the face check's camera runs on
    finally:
        scanner.stop()
        face_camera.stop()


@pytest.mark.parametrize(("options", "expected"), [
    ({"scanner": "camera"}, "zxing"),
    ({"scanner": "camera", "backend": "zxing"}, "zxing"),
    ({"scanner": "camera", "backend": "pyzbar"}, "pyzbar"),
])
def test_configuration_chooses_the_decoder(tmp_path, options, expected):
    scanner = REGISTRY.build("qr", "real", source=str(tmp_path), **options)
    assert isinstance(scanner, CameraQrScanner) and scanner.backend == expected


def test_configuration_chooses_serial_or_camera_and_refuses_the_rest(tmp_path):
    assert isinstance(REGISTRY.build("qr", "real", port=str(tmp_path / "tty")), SerialQrScanner)
    assert isinstance(REGISTRY.build("qr", "simulated", scanner="serial"), SerialQrScanner)
    simulated = REGISTRY.build("qr", "simulated", scanner="camera")
    assert isinstance(simulated, CameraQrScanner)
    assert simulated.camera.source == DEFAULT_SIMULATOR_URL
    for bad in ({"scanner": "laser"}, {"scanner": "camera", "backend": "opencv"},
                {"scanner": "serial", "backend": "zxing"}):
        device = REGISTRY.build("qr", "real", **bad)
        assert device.health().code == "driver-unavailable", bad
