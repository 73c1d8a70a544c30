"""CameraQrScanner: QR codes decoded from a camera's frames (zxing-cpp, or pyzbar).

    CameraQrScanner(source="/dev/video0")          # builds and owns an OpenCvCamera at 1280x720
    CameraQrScanner(camera=kiosk_camera)           # shares the kiosk's camera (face checks too)
    CameraQrScanner(source=..., backend="pyzbar")

The frames come from the camera driver (drivers/camera: its sources, capture thread, health
and limits), not from a second copy of that code. The scanner's own thread waits for each new
frame (`next_frame`, bounded), decodes it with the chosen backend (drivers/qr/decode.py) and
publishes what it found: CodeScanned once per code held in front of the lens (debounced), a
ScanRejected for a code too large to be an e-SSC token. A frame that takes too long to decode
is simply followed by the newest one: the camera keeps only its latest frame.

Health follows the camera's (a missing camera is a missing scanner); a decoder that raises is
"scanner-error" until it decodes again. A shared camera is neither started nor stopped here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import Health, HealthState, HealthTracker, Observer, Unsubscribe
from drivers.camera.interface import Camera, CameraHealthCode
from drivers.qr.decode import DEFAULT_BACKEND, FrameDecoder, make_decoder
from drivers.qr.interface import KIND, MAX_PAYLOAD_BYTES, QrHealthCode, ScanRejection
from drivers.qr.publishing import ScanEvents

log = logging.getLogger(__name__)

STOP_JOIN_S = 0.5
_FRAME_WAIT_S = 0.25  # one wait for a frame; short, so stop() is seen at once


class CameraQrScanner:
    kind = KIND

    def __init__(
        self,
        camera: Camera | None = None,
        *,
        source: str | int | Path = 0,
        width: int = 1280,
        height: int = 720,
        fps: float = 15.0,
        backend: str = DEFAULT_BACKEND,
        debounce_s: float = 2.0,
        decoder: FrameDecoder | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        **camera_options: Any,
    ) -> None:
        self._decoder = decoder or make_decoder(backend)  # ValueError/ImportError: set-up
        self.backend = self._decoder.name
        self._owns_camera = camera is None
        if camera is None:
            from drivers.camera.opencv import OpenCvCamera

            camera = OpenCvCamera(source, width=width, height=height, fps=fps, **camera_options)
        self.camera = camera
        self.name = name or f"camera {getattr(camera, 'description', source)}"
        self._events = ScanEvents(self.name, debounce_s, clock)
        self._lifecycle = threading.Lock()
        self._stopped: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._tracker = HealthTracker(
            KIND, self._events.publish,
            Health(HealthState.MISSING, QrHealthCode.SCANNER_MISSING, "not started"), log)

    # Device

    def start(self) -> None:
        with self._lifecycle:
            if self._stopped is not None:
                return
            if self._owns_camera:
                self.camera.start()
            stopped = threading.Event()
            self._stopped = stopped
            self._events.open()
            self._tracker.restart()
            self._thread = threading.Thread(target=self._loop, args=(stopped,),
                                            name=f"qr {self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lifecycle:
            stopped, thread = self._stopped, self._thread
            if stopped is None:
                return
            stopped.set()
            self._events.close()
            if self._owns_camera:
                self.camera.stop()  # also wakes next_frame()
            if thread is not None and thread is not threading.current_thread():
                thread.join(STOP_JOIN_S)
                if thread.is_alive():
                    log.warning("qr %s: decoder thread did not end; abandoned", self.name)
            self._stopped = None
            self._thread = None

    def health(self) -> Health:
        return self._tracker.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._events.subscribe(observer)

    def stats(self) -> dict[str, int]:
        """Counters since construction: frames, scanned, debounced, too-large, decode-errors."""
        return self._events.stats()

    # The decoder thread

    def _set(self, stopped: threading.Event, state: HealthState, code: str, reason: str) -> None:
        if not stopped.is_set():
            self._tracker.set(state, code, reason)

    def _camera_health(self, stopped: threading.Event) -> bool:
        """Mirror the camera's health; True when frames can be expected."""
        health = self.camera.health()
        if health.state is HealthState.MISSING:
            code = (QrHealthCode.SCANNER_MISSING
                    if health.code in (CameraHealthCode.CAMERA_MISSING, "not-configured")
                    else QrHealthCode.SCANNER_ERROR)
            self._set(stopped, HealthState.MISSING, code, f"camera: {health.reason or health.code}")
            return False
        return True

    def _loop(self, stopped: threading.Event) -> None:
        after: int | None = None
        while not stopped.is_set():
            asked = time.monotonic()
            frame = self.camera.next_frame(after=after, timeout_s=_FRAME_WAIT_S)
            if stopped.is_set():
                return
            if frame is None:
                self._camera_health(stopped)
                # A camera that answers None at once (stopped, absent) must not make this
                # loop spin: wait out the rest of the frame wait.
                stopped.wait(max(0.0, _FRAME_WAIT_S - (time.monotonic() - asked)))
                continue
            after = frame.sequence
            try:
                found = self._decoder.decode(frame.pixels)
            except Exception as exc:  # a decoder bug or a library error: reported, not fatal
                self._events.count("frames")
                self._events.count("decode-errors")
                log.debug("qr %s: decoder failed", self.name, exc_info=True)
                self._set(stopped, HealthState.MISSING, QrHealthCode.SCANNER_ERROR,
                          f"{self.backend} decoder failed: {type(exc).__name__}")
                continue
            if self._camera_health(stopped):
                self._set(stopped, HealthState.OK, QrHealthCode.OK,
                          f"decoding {self.backend} on {self.name}")
            for code in found:
                if len(code.payload) > MAX_PAYLOAD_BYTES:
                    self._events.rejected(ScanRejection.TOO_LARGE, len(code.payload),
                                          f"longer than {MAX_PAYLOAD_BYTES} bytes")
                else:
                    self._events.scanned(code.payload, code.symbology)
            self._events.count("frames")  # after its codes: "frames" counts finished frames


def simulated_camera_scanner(source: str | None = None, **options: Any) -> CameraQrScanner:
    """The camera scanner on the camera simulator's stream (`kioskctl sim camera serve`)."""
    from drivers.camera.opencv import DEFAULT_SIMULATOR_URL

    return CameraQrScanner(source=source or DEFAULT_SIMULATOR_URL, **options)
