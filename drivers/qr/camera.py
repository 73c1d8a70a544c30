"""CameraQrScanner: QR codes decoded from a camera's frames (zxing-cpp, or pyzbar).

    CameraQrScanner(source="/dev/video0")          # leases that device (drivers/camera/shared.py)
    CameraQrScanner(camera=kiosk_camera)           # reads a camera someone else starts and stops
    CameraQrScanner(source=..., backend="pyzbar", on_demand=True)
    release = scanner.demand()                     # on_demand: decode from now ...
    release()                                      # ... until the screen asking for it leaves

The frames come from the camera driver (drivers/camera: its sources, capture thread, health
and limits). With a `source`, the scanner leases the process's one driver of that device, so a
terminal whose face check uses the same camera opens it once; it asks for 1280x720 (small
modules), which the camera kind's own settings override. The scanner's thread waits for each
new frame (`next_frame`, bounded), decodes it with the chosen backend (drivers/qr/decode.py)
and publishes what it found: CodeScanned once per code held in front of the lens (debounced),
a ScanRejected for a code too large to be an e-SSC token. A frame that takes too long to decode
is simply followed by the newest one: the camera keeps only its latest frame.

`on_demand`: decoding costs 1.4-5 ms a frame (zxing), 15 times a second, which the face check
on the same cores needs. Such a scanner decodes only while someone holds a `demand()`: the
kiosk's screen that asks for the code, through `preview` (the newest frame, for the citizen to
aim the phone). Otherwise its thread sleeps and only mirrors the camera's health once a second.

Health follows the camera's (a missing camera is a missing scanner); a decoder that raises is
"scanner-error" until it decodes again, and that frame is counted alone (`decode-errors`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import Health, HealthState, HealthTracker, Observer, Unsubscribe
from drivers.camera.interface import Camera, CameraHealthCode, Frame
from drivers.qr.decode import DEFAULT_BACKEND, FrameDecoder, make_decoder
from drivers.qr.interface import KIND, MAX_PAYLOAD_BYTES, QrHealthCode, ScanRejection
from drivers.qr.publishing import ScanEvents

log = logging.getLogger(__name__)

STOP_JOIN_S = 0.5
_FRAME_WAIT_S = 0.25  # one wait for a frame; short, so stop() is seen at once
_IDLE_CHECK_S = 1.0  # undemanded: how often the camera's health is looked at


class QrPreview:
    """What the screen asking for the code gets: the newest frame when called, and `demand()`.

    Callable like the `latest_frame` it wraps, so a screen that only draws frames needs nothing
    else (kiosk/ui/screens/attract.py)."""

    def __init__(self, scanner: CameraQrScanner) -> None:
        self._scanner = scanner

    def __call__(self) -> Frame | None:
        return self._scanner.camera.latest_frame()

    def demand(self) -> Callable[[], None]:
        return self._scanner.demand()


class CameraQrScanner:
    kind = KIND

    def __init__(
        self,
        camera: Camera | None = None,
        *,
        source: str | int | Path = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        backend: str = DEFAULT_BACKEND,
        debounce_s: float = 2.0,
        on_demand: bool = False,
        decoder: FrameDecoder | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        **camera_options: Any,
    ) -> None:
        self._decoder = decoder or make_decoder(backend)  # ValueError/ImportError: set-up
        self.backend = self._decoder.name
        self._owns_camera = camera is None
        if camera is None:
            from drivers.camera.shared import lease_camera

            named = {k: v for k, v in (("width", width), ("height", height), ("fps", fps))
                     if v is not None}
            camera = lease_camera(source, prefer={"width": 1280, "height": 720},
                                  **named, **camera_options)
        self.camera = camera
        self.name = name or f"camera {getattr(camera, 'description', source)}"
        self.on_demand = on_demand
        self.preview = QrPreview(self)
        self._events = ScanEvents(self.name, debounce_s, clock)
        self._lifecycle = threading.Lock()
        self._wake = threading.Condition()
        self._demands = 0
        self._decoder_failed = False
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
            self._decoder_failed = False
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
            with self._wake:
                self._wake.notify_all()
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
        """Counters since construction: frames, scanned, debounced, too-large, decode-errors,
        undemanded (codes found after the last demand was released: not published)."""
        return self._events.stats()

    # Decoding on demand

    def demand(self) -> Callable[[], None]:
        """Decode from now until the returned release is called (once; more calls are no-ops).
        Demands add up: decoding goes on while any is held. Without `on_demand`, a no-op."""
        with self._wake:
            self._demands += 1
            self._wake.notify_all()
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._wake:
                self._demands -= 1

        return release

    @property
    def decoding(self) -> bool:
        """True when frames are decoded now (started, and demanded if `on_demand`)."""
        return self._stopped is not None and self._wanted()

    def _wanted(self) -> bool:
        return not self.on_demand or self._demands > 0

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

    def _idle(self, stopped: threading.Event) -> None:
        """Undemanded: the camera's health only, no frames. A decoder that failed stays
        "scanner-error" until it decodes again."""
        if self._camera_health(stopped) and not self._decoder_failed:
            self._set(stopped, HealthState.OK, QrHealthCode.OK,
                      f"ready to decode ({self.backend}) on {self.name}")

    def _loop(self, stopped: threading.Event) -> None:
        after: int | None = None
        while not stopped.is_set():
            with self._wake:
                wanted = self._wake.wait_for(lambda: stopped.is_set() or self._wanted(),
                                             timeout=_IDLE_CHECK_S)
            if stopped.is_set():
                return
            if not wanted:
                self._idle(stopped)
                after = None  # when demanded again: frames from then on, not an old one
                continue
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
            self._decode(stopped, frame)

    def _decode(self, stopped: threading.Event, frame: Frame) -> None:
        try:
            found = self._decoder.decode(frame.pixels)
        except Exception as exc:  # a decoder bug or a library error: this frame only
            self._events.count("frames")
            self._events.count("decode-errors")
            self._decoder_failed = True
            log.debug("qr %s: decoder failed", self.name, exc_info=True)
            self._set(stopped, HealthState.MISSING, QrHealthCode.SCANNER_ERROR,
                      f"{self.backend} decoder failed: {type(exc).__name__}")
            return
        self._decoder_failed = False
        if self._camera_health(stopped):
            self._set(stopped, HealthState.OK, QrHealthCode.OK,
                      f"decoding {self.backend} on {self.name}")
        # The screen that asked may have gone while this frame was decoded: the citizen no
        # longer sees "show your code", so a code found now would start something unasked.
        wanted = self._wanted()
        for code in found:
            if not wanted:
                self._events.count("undemanded")
            elif len(code.payload) > MAX_PAYLOAD_BYTES:
                self._events.rejected(ScanRejection.TOO_LARGE, len(code.payload),
                                      f"longer than {MAX_PAYLOAD_BYTES} bytes")
            else:
                self._events.scanned(code.payload, code.symbology)
        self._events.count("frames")  # after its codes: "frames" counts finished frames


def simulated_camera_scanner(source: str | None = None, **options: Any) -> CameraQrScanner:
    """The camera scanner on the camera simulator's stream (`kioskctl sim camera serve`)."""
    from drivers.camera.opencv import DEFAULT_SIMULATOR_URL

    return CameraQrScanner(source=source or DEFAULT_SIMULATOR_URL, **options)
