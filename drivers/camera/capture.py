"""The capture thread behind every camera driver: open, read into a one-frame slot, judge health.

One daemon thread per start() owns the source: it opens it (retrying with backoff while it is
missing), reads frames as fast as the source gives them (files are paced to the camera's fps),
and publishes each as the newest Frame. Readers never wait on the source: `latest_frame()`
takes a lock held for an assignment, `next_frame()` waits on a condition with a timeout.
stop() does not join a thread stuck in a read (an OpenCV read cannot be interrupted): it
interrupts the source, waits briefly, then abandons the thread, which closes its source and
ends when the read finally returns. Nothing is published once stop() has returned.

Health from the frames themselves (FrameChecks): a source that repeats the same image is
"frozen", one whose frames stay dark is "too-dark". Both are judged on a 64x48 thumbnail
(about 0.1 ms a frame): a real sensor's noise changes a thumbnail of a still scene from one
frame to the next, a stuck pipeline repeats it byte for byte.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from common.backoff import Backoff
from common.clock import Monotonic
from drivers.base import (
    DeviceEvent,
    EventHub,
    Health,
    HealthState,
    HealthTracker,
    Observer,
    Unsubscribe,
)
from drivers.camera.interface import KIND, CameraHealthCode, CameraStarted, Frame
from drivers.camera.sources import FrameSource, SourceFailed, SourceMissing

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

THUMBNAIL = (64, 48)
# How long stop() waits for the capture thread before abandoning it (Device: stop < 1 s).
STOP_JOIN_S = 0.5
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Finding:
    state: HealthState
    code: str
    reason: str = ""


OK = Finding(HealthState.OK, CameraHealthCode.OK)


class FrameChecks:
    """Frozen and too-dark, each only after it has lasted a while (one dark frame is a hand
    passing in front of the lens)."""

    def __init__(self, *, frozen_after_s: float, dark_after_s: float, dark_luma: float) -> None:
        self.frozen_after_s = frozen_after_s
        self.dark_after_s = dark_after_s
        self.dark_luma = dark_luma
        self.reset()

    def reset(self) -> None:
        self._thumbnail: NDArray[np.uint8] | None = None
        self._same_since: float | None = None
        self._dark_since: float | None = None

    def observe(self, rgb: NDArray[np.uint8], now: float) -> Finding:
        import cv2  # here, on the capture thread: not at the kiosk's start (time, RSS)

        thumbnail = cv2.resize(rgb, THUMBNAIL, interpolation=cv2.INTER_AREA)
        luma = float(thumbnail.reshape(-1, 3).astype(np.float32).mean(axis=0) @ _LUMA)
        if self._thumbnail is not None and np.array_equal(thumbnail, self._thumbnail):
            if self._same_since is None:
                self._same_since = now
        else:
            self._same_since = None
        self._thumbnail = thumbnail
        if luma < self.dark_luma:
            self._dark_since = now if self._dark_since is None else self._dark_since
        else:
            self._dark_since = None
        # Dark first: a sensor in the dark repeats black frames, which also look frozen, and
        # "more light" is what the person in front of it can fix.
        if self._dark_since is not None and now - self._dark_since >= self.dark_after_s:
            return Finding(HealthState.DEGRADED, CameraHealthCode.TOO_DARK,
                           f"frames too dark (mean luminance {luma:.0f} < {self.dark_luma:g})")
        if self._same_since is not None and now - self._same_since >= self.frozen_after_s:
            return Finding(HealthState.DEGRADED, CameraHealthCode.FROZEN,
                           f"the same frame for {now - self._same_since:.1f} s")
        return OK


@dataclass(eq=False)
class _Run:
    """One start()..stop(): what its thread owns."""

    stopped: threading.Event = field(default_factory=threading.Event)
    source: FrameSource | None = None
    sequence: int = 0


class CaptureCamera:
    """A Camera (drivers/camera/interface.py) over any FrameSource; `make_source` builds a
    fresh one for each attempt (an abandoned one may still be stuck in its read)."""

    kind = KIND

    def __init__(
        self,
        make_source: Callable[[], FrameSource],
        *,
        description: str,
        fps: float = 15.0,
        frozen_after_s: float = 3.0,
        dark_after_s: float = 2.0,
        dark_luma: float = 25.0,
        backoff: Backoff | None = None,
        clock: Monotonic = time.monotonic,
    ) -> None:
        if not 0 < fps <= 120:
            raise ValueError("fps is in (0, 120]")
        self.description = description
        self.fps = fps
        self._make_source = make_source
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=10.0)
        self._clock = clock
        self._thresholds = {"frozen_after_s": frozen_after_s, "dark_after_s": dark_after_s,
                            "dark_luma": dark_luma}
        self._hub = EventHub()
        self._publish_lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._slot = threading.Condition()
        self._latest: Frame | None = None
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._tracker = HealthTracker(
            KIND, lambda event: None,
            Health(HealthState.MISSING, CameraHealthCode.CAMERA_MISSING, "not started"), log,
        )

    # Device

    def start(self) -> None:
        with self._lifecycle:
            if self._run is not None:
                return
            run = _Run()
            self._tracker = HealthTracker(
                KIND, lambda event: self._publish(run, event), self._tracker.current, log
            )
            with self._slot:
                self._latest = None
                self._run = run
            self._thread = threading.Thread(
                target=self._loop, args=(run,), name=f"camera {self.description}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lifecycle:
            run, thread = self._run, self._thread
            if run is None:
                return
            run.stopped.set()
            source = run.source
            if source is not None:
                source.interrupt()
            with self._slot:
                self._run = None
                self._latest = None  # a face is personal data: not kept past stop()
                self._slot.notify_all()
            # An observer may call stop() on the capture thread itself: it ends by its flag.
            if thread is not None and thread is not threading.current_thread():
                thread.join(STOP_JOIN_S)
                if thread.is_alive():
                    log.warning("camera %s: capture thread stuck in a read; abandoned",
                                self.description)
            # An event being delivered right now finishes before stop() returns.
            if self._publish_lock.acquire(timeout=0.3):
                self._publish_lock.release()
            self._thread = None

    def health(self) -> Health:
        return self._tracker.current

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    # Camera

    def latest_frame(self) -> Frame | None:
        return self._latest

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        with self._slot:
            run = self._run
            if run is None:
                return None
            if after is None:
                after = self._latest.sequence if self._latest is not None else -1

            def arrived() -> bool:
                latest = self._latest
                return self._run is not run or (latest is not None and latest.sequence > after)

            self._slot.wait_for(arrived, timeout=max(0.0, timeout_s))
            latest = self._latest
            if self._run is not run or latest is None or latest.sequence <= after:
                return None
            return latest

    # The capture thread

    def _publish(self, run: _Run, event: DeviceEvent) -> None:
        with self._publish_lock:
            if not run.stopped.is_set():
                self._hub.publish(event)

    def _set(self, run: _Run, finding: Finding) -> None:
        if not run.stopped.is_set():
            self._tracker.set(finding.state, finding.code, finding.reason)

    def _loop(self, run: _Run) -> None:
        attempt = 0
        while not run.stopped.is_set():
            source = self._make_source()
            run.source = source
            delivered = False
            try:
                source.open()
                if run.stopped.is_set():
                    break
                delivered = self._capture(run, source)
            except SourceMissing as exc:
                self._set(run, Finding(HealthState.MISSING, CameraHealthCode.CAMERA_MISSING,
                                       str(exc)))
            except Exception as exc:  # cv2.error or a bug: reported, retried, never fatal
                log.debug("camera %s failed", self.description, exc_info=True)
                self._set(run, Finding(HealthState.MISSING, CameraHealthCode.CAMERA_ERROR,
                                       f"capture failed: {exc}"))
            finally:
                run.source = None
                try:
                    source.close()
                except Exception:
                    log.debug("camera %s: close failed", self.description, exc_info=True)
            attempt = 1 if delivered else attempt + 1
            run.stopped.wait(self._backoff.delay(attempt))

    def _capture(self, run: _Run, source: FrameSource) -> bool:
        """Read until the source fails or stop(); True when at least one frame arrived."""
        checks = FrameChecks(**self._thresholds)  # per open: an abandoned thread keeps its own
        delivered = False
        interval = 1.0 / self.fps
        while not run.stopped.is_set():
            began = time.monotonic()
            try:
                pixels = source.read()
            except SourceFailed as exc:
                self._set(run, Finding(HealthState.MISSING, CameraHealthCode.CAMERA_ERROR,
                                       str(exc)))
                return delivered
            if run.stopped.is_set():  # a read that returned after stop(): nobody wants it
                return delivered
            now = self._clock()
            # Health first: whoever wakes on this frame reads a health that includes it.
            finding = checks.observe(pixels, now)
            self._set(run, finding)
            with self._slot:
                if self._run is not run:
                    return delivered
                frame = Frame(pixels=pixels, sequence=run.sequence, captured_at=now)
                run.sequence += 1
                self._latest = frame
                self._slot.notify_all()
            if not delivered:
                delivered = True
                self._publish(run, CameraStarted(camera=self.description, width=frame.width,
                                                 height=frame.height, fps=self.fps))
            if not source.paced:  # files would otherwise be read as fast as the disk goes
                run.stopped.wait(max(0.0, interval - (time.monotonic() - began)))
        return delivered
