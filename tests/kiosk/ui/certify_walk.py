"""A certification in the real KioskApp, offscreen: `python -m tests.kiosk.ui.certify_walk OUT`.

Real parts: the app and its wiring (kit_from, the voice hook, the capture screen's preview
Clock), the dlib face engine, the liveness check, the device key. Stand-ins: the card reader
(FakeCardReader), the edge (scripted), and the camera, which is a live persona rendered in
real time that performs whatever the kiosk's voice last asked. Driven over the automation
API like the gallery; writes OUT/certify-walk.json.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import EventHub, Health, HealthState, Observer, Unsubscribe
from drivers.camera.interface import Frame

FPS = 15.0


class PersonaCamera:
    """A camera Device whose scene is a simulated person, frames at FPS in real time."""

    kind = "camera"

    def __init__(self, persona: str, seed: int = 0) -> None:
        from simulators.camera.personas import make_persona

        self._persona = make_persona(persona, seed=seed)
        self._hub = EventHub()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last: Frame | None = None
        self._stopped = threading.Event()
        self.asked: str | None = None

    def start(self) -> None:
        self._started = time.monotonic()

    def stop(self) -> None:
        self._stopped.set()

    def health(self) -> Health:
        return Health(HealthState.OK, "ok")

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def latest_frame(self) -> Frame | None:
        return self._last

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        last = self._last
        sequence = (last.sequence if last is not None else -1) + 1
        due = self._started + sequence / FPS
        wait = due - time.monotonic()
        if wait > timeout_s or self._stopped.wait(max(wait, 0.0)):
            return None
        with self._lock:
            t = sequence / FPS
            frame = Frame(np.ascontiguousarray(self._persona.frame(t, self.asked)), sequence,
                          self._started + t)
            self._last = frame
        return frame


class PromptedVoice:
    """Records what is said; a challenge said aloud is what the persona performs."""

    def __init__(self, camera: PersonaCamera) -> None:
        self.camera = camera
        self.said: list[str] = []

    def say(self, key: str, text: str) -> None:
        self.said.append(key)
        if key.startswith("certify.challenge."):
            self.camera.asked = key.removeprefix("certify.challenge.")

    def stop(self) -> None:
        pass


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    from common import signing
    from common.logs import setup_logging
    from kiosk.settings import KioskSettings
    from kiosk.status_server import StatusServer
    from kiosk.ui import boot

    setup_logging("INFO")
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    key_file = out / "walk.signing-key.pem"
    if not key_file.exists():
        signing.generate_device_key(key_file)
    settings = KioskSettings(device_id="walk-01", theme="elder", automation=True,
                             status_port=0, window_width=720, window_height=1280,
                             animations="off", device_key_file=key_file, voice="silent",
                             screenshots_dir=out)
    boot.prepare_environment()
    boot.configure_kivy(settings)
    import face_recognition
    from kivy.clock import Clock

    from drivers.card.fake import FakeCardReader
    from drivers.face.dlib_engine import DlibFaceEngine
    from drivers.registry import Impl, PeripheralKind
    from kiosk.peripherals import Peripheral, Peripherals
    from kiosk.ui.app import KioskApp, post_to_ui
    from simulators.camera.photos import photos
    from tests.kiosk.fakes import sample_card
    from tests.kiosk.flow.test_certify import CertifyEdge, status
    from tests.kiosk.gallery import HeldScheduler, Journey

    image = face_recognition.load_image_file(str(photos("a")[0].path))
    (enrolled,) = face_recognition.face_encodings(image)
    edge = CertifyEdge(status_script=[status(template=[float(v) for v in enrolled])])
    reader, camera = FakeCardReader(), PersonaCamera("live", seed=2)
    voice = PromptedVoice(camera)
    peripherals = Peripherals([
        Peripheral(PeripheralKind.CARD, Impl.SIMULATED, reader),
        Peripheral(PeripheralKind.CAMERA, Impl.SIMULATED, camera),
        Peripheral(PeripheralKind.FACE, Impl.REAL, DlibFaceEngine()),
    ])
    status_server = StatusServer("127.0.0.1", 0)
    scheduler = HeldScheduler()
    app = KioskApp(settings, peripherals, edge, status=status_server, voice=voice,
                   scheduler=scheduler)
    walk = Journey(status_server.url, out, reader, edge, post_to_ui, scheduler)  # type: ignore[arg-type]
    failed: list[str] = []
    seen: dict[str, Any] = {}

    def texts() -> dict[str, Any]:
        answer: dict[str, Any] = walk.http.get("/automation/texts").json()
        return answer

    def script() -> None:
        try:
            reader.insert(sample_card())
            walk.wait("home")
            seen["home"] = texts()
            walk.tap("home.certify")
            walk.shot("01-certify-due", "certify")
            walk.tap("certify.start")
            walk.wait("capture")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                shown = texts()
                if shown["screen"] == "capture" and any("步/共" in t for t in shown["texts"]):
                    break
                threading.Event().wait(0.05)  # paces the poll of another thread's state
            walk.shot("02-capture-challenge", "capture")
            r = walk.http.get("/automation/wait", params={"screen": "receipt", "timeout": 40})
            if r.status_code != 200:
                raise RuntimeError(f"no receipt: {r.text}")
            walk.shot("03-receipt", "receipt")
            seen["preview_frames"] = app.screens[next(
                n for n in app.screens if str(n) == "capture")].preview.frames_drawn
            seen["said"] = voice.said
            seen["submitted"] = [
                {"record": body["record"], "sha": signing.evidence_sha256(body["evidence"])}
                for _sid, body, _key in edge.submit_calls]
            walk.tap("receipt.done")
            walk.wait("home")
        except Exception:
            failed.append(traceback.format_exc())
        finally:
            (out / "certify-walk.json").write_text(json.dumps(
                {"shots": walk.manifest, **seen, "public_key": signing.public_key_b64(
                    signing.load_device_key(key_file))}, ensure_ascii=False, indent=1))
            Clock.schedule_once(lambda _dt: app.stop(), 0)

    Clock.schedule_once(lambda _dt: threading.Thread(target=script, daemon=True).start(), 0)
    app.run()
    if failed:
        print(failed[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
