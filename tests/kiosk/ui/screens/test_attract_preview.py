"""Where the QR scanner is a camera, the attract screen shows what it sees (a small live
preview) and says to hold the code to the camera; with a serial scanner, "scan at the
scanner". A real offscreen window in a child process (Kivy's Window is a process singleton)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.kiosk.test_window import ROOT, kivy_env

PROBE = """
import json, sys, time
from kiosk.ui import boot
boot.prepare_environment()
from kiosk.settings import KioskSettings
boot.configure_kivy(KioskSettings(device_id="probe-01"))
from kivy.base import EventLoop
from kivy.core.window import Window
from drivers.camera.interface import Frame
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.attract import AttractScreen
from kiosk.ui.screens.base import UiContext
from kiosk.ui.theme import theme_named
from simulators.qr.frames import FrameGenerator

class Preview:  # as drivers.qr.camera.QrPreview: the newest frame, demand() to decode
    def __init__(self):
        self.frames, self.held = 0, 0
        self.pixels = FrameGenerator(seed=1, width=640, height=360).render("eSSC_probe-token")
    def __call__(self):
        self.frames += 1
        return Frame(self.pixels, sequence=self.frames, captured_at=time.monotonic())
    def demand(self):
        self.held += 1
        def release():
            self.held -= 1
        return release

camera = sys.argv[1] == "camera"
preview = Preview()
ctx = UiContext(theme_named("elder"), Translator("zh_CN"), lambda _a: None,
                qr_preview=preview if camera else None)
screen = AttractScreen(ctx)
Window.add_widget(screen)
screen.started()
screen.render(View(screen=ScreenName.ATTRACT, methods=("card", "qr")))
deadline = time.monotonic() + 20
while time.monotonic() < deadline and camera and (screen.preview.frames_drawn < 3):
    EventLoop.idle()
drawn = screen.preview.frames_drawn if screen.preview is not None else None
held_shown = preview.held
screen.render(View(screen=ScreenName.ATTRACT, methods=("card",)))  # the scanner went away
held_without_qr = preview.held
screen.render(View(screen=ScreenName.ATTRACT, methods=("card", "qr")))
held_again = preview.held
screen.stopped()
print(json.dumps({"drawn": drawn, "ways": screen.ways.text,
                  "blank": screen.preview.sequence is None if screen.preview else None,
                  "held": [held_shown, held_without_qr, held_again, preview.held]}))
"""


def _probe(kind: str, tmp_path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, kind], cwd=ROOT,
                         env=kivy_env(tmp_path / "kivy"), capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_camera_scanner_gets_a_live_preview_blanked_when_left(tmp_path: Path) -> None:
    result = _probe("camera", tmp_path)
    assert isinstance(result["drawn"], int) and result["drawn"] >= 3
    assert "摄像头" in str(result["ways"])
    assert result["blank"] is True
    # The scanner decodes while the screen offers the code, not once it stopped offering it
    # or was left (a session, the face check): [shown, no qr, qr again, left].
    assert result["held"] == [1, 0, 1, 0]


def test_a_serial_scanner_says_scan_at_the_scanner(tmp_path: Path) -> None:
    result = _probe("serial", tmp_path)
    assert result["drawn"] is None and "扫码器" in str(result["ways"])
    assert result["held"] == [0, 0, 0, 0], "a serial scanner is never asked to decode"
