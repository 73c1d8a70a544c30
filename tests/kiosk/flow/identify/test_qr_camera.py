"""The e-SSC code read by the terminal's camera, as the kiosk builds it from its settings: the
camera QR scanner shares the camera kind's driver, decodes nothing until the screen asking for
the code demands it (the attract screen's preview, kiosk/ui/screens/attract.py), then a code
in front of the lens opens a `qr` session like one at a serial scanner.

Real drivers on a folder of generated phone frames; events reach the flow through a queue on
the test's thread, as the app's bridge hands them to the UI thread."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import DeviceEvent
from drivers.qr.camera import CameraQrScanner
from drivers.qr.interface import CodeScanned
from drivers.registry import PeripheralKind
from kiosk.flow import KioskFlow, ScreenName
from kiosk.peripherals import build_peripherals
from kiosk.peripherals.running import Peripherals
from kiosk.settings import KioskSettings
from tests.drivers.qr.test_camera import frames_pass, write_frames
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge
from tests.kiosk.flow.test_core import CONFIG

TOKEN = "eSSC_cam-7d1e0c2b3a4f5e6d7c8b9a0f1e2d3c4b"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIOSK_CAMERA_SOURCE", "HRSS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for kind in PeripheralKind:
        monkeypatch.delenv(f"KIOSK_PERIPHERALS__{kind.upper()}", raising=False)
        monkeypatch.delenv(f"KIOSK_PERIPHERAL_OPTIONS__{kind.upper()}__SCANNER", raising=False)


@pytest.fixture
def peripherals(tmp_path: Path) -> Iterator[tuple[Peripherals, queue.Queue[DeviceEvent]]]:
    folder = write_frames(tmp_path / "camera", [TOKEN])
    settings = KioskSettings(
        peripherals={"card": "absent", "qr": "simulated", "camera": "simulated"},
        peripheral_options={"qr": {"scanner": "camera", "debounce_s": 0}},
        camera_source=str(folder))
    built = build_peripherals(settings)
    events: queue.Queue[DeviceEvent] = queue.Queue()
    built.subscribe(events.put)
    built.start()
    try:
        yield built, events
    finally:
        assert built.stop()


def pump(flow: KioskFlow, events: queue.Queue[DeviceEvent], until) -> None:
    while not until():
        flow.handle(events.get(timeout=10))


def test_the_code_held_to_the_camera_opens_a_qr_session_once_the_screen_asks(
        peripherals) -> None:
    built, events = peripherals
    scanner = built[PeripheralKind.QR].device
    camera = built[PeripheralKind.CAMERA].device
    assert isinstance(scanner, CameraQrScanner)
    assert scanner.camera.owner is camera.owner, "one driver of the one camera"  # type: ignore[attr-defined]
    edge, tasks = ScriptedEdge(), ManualTasks()
    flow = KioskFlow(edge, tasks, ManualClock(), CONFIG)

    pump(flow, events, lambda: flow.view.offers("qr"))  # the scanner is ready: QR offered
    assert flow.view.screen is ScreenName.ATTRACT
    frames_pass(camera, 10)
    assert scanner.stats().get("frames", 0) == 0, "nothing decoded before the screen asks"
    assert not any(isinstance(e, CodeScanned) for e in list(events.queue))

    release = scanner.preview.demand()  # what the attract screen does while it shows
    try:
        assert scanner.preview() is not None  # the frame the preview draws
        pump(flow, events, lambda: flow.view.screen is ScreenName.IDENTIFYING)
    finally:
        release()
    tasks.run_all()
    ((credential, _key),) = edge.open_calls
    assert credential.body() == {"method": "qr", "qr": {"token": TOKEN}}
    assert flow.view.screen is ScreenName.HOME
