"""One owner per camera device in the process, shared by whoever needs its frames.

    face = lease_camera("/dev/video0", width=640, height=480)   # the camera kind (face checks)
    qr = lease_camera(0)                                         # the camera QR scanner: the same
    face.start(); qr.start()                                     # one capture thread, one open

The face check and a camera QR scanner may look through the same lens. A V4L2 device opens
once, and a second capture of the same stream would double the work for the same pixels, so
each device has one `CameraOwner` (a CaptureCamera, drivers/camera/capture.py) and every user
holds a `CameraLease`: a Camera of its own (start, stop, health, events, frames) over it. The
device runs while at least one lease is started and stops with the last; a lease that is not
started sees no frames and no events.

Capture settings (size, fps) belong to the device, not to a lease: the first lease that names
them sets them. A lease that only prefers some (the QR scanner would like 1280x720) sets them
only while nobody has named any; a lease naming different ones once they are set is logged
and gets the device as it is. While the device is not running, naming them rebuilds its
driver (construction does no I/O). Owners are kept weakly: a device nobody leases is forgotten.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import (
    DeviceEvent,
    EventHub,
    Health,
    HealthChanged,
    HealthState,
    Observer,
    Unsubscribe,
)
from drivers.camera.interface import KIND, CameraHealthCode, Frame

log = logging.getLogger(__name__)

Source = str | int | Path
MakeCamera = Callable[..., Any]  # (source, **options) -> a CaptureCamera-like Camera

_NOT_STARTED = Health(HealthState.MISSING, CameraHealthCode.CAMERA_MISSING, "not started")


def device_key(source: Source) -> str:
    """One name per device: 0, "0" and "/dev/video0" are the same camera; paths absolute."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return f"/dev/video{int(source)}"
    if isinstance(source, str) and re.match(r"^https?://", source, re.IGNORECASE):
        return source
    return os.path.abspath(os.fspath(source))


def _opencv(source: Source, **options: Any) -> Any:
    from drivers.camera.opencv import OpenCvCamera

    return OpenCvCamera(source, **options)


class CameraOwner:
    """The one driver of a device and how many started leases want it running."""

    def __init__(self, source: Source, make: MakeCamera = _opencv) -> None:
        self.source = source
        self.key = device_key(source)
        self._make = make
        self._lock = threading.Lock()
        self._options: dict[str, Any] = {}
        self._named = False  # options named by a lease (not only preferred)
        self._running = 0
        self.hub = EventHub()
        self._camera: Any = None
        self._unsubscribe: Unsubscribe = lambda: None
        self._rebuild({})

    @property
    def camera(self) -> Any:
        return self._camera

    def _rebuild(self, options: dict[str, Any]) -> None:
        camera = self._make(self.source, **options)  # ValueError: the caller's bad option
        self._unsubscribe()
        self._camera, self._options = camera, options
        self._unsubscribe = camera.subscribe(self.hub.publish)

    def settle(self, named: dict[str, Any], preferred: dict[str, Any]) -> None:
        """Take a new lease's capture settings (see the module for who wins)."""
        with self._lock:
            if named:
                if self._named:
                    if named != self._options:
                        log.warning("camera %s is shared: it keeps %s, not %s", self.key,
                                    self._options, named)
                    return
                wanted = named
            elif preferred and not self._named and not self._options:
                wanted = preferred
            else:
                return
            if wanted != self._options:
                if self._running:
                    log.warning("camera %s already runs with %s; %s not applied", self.key,
                                self._options or "its defaults", wanted)
                else:
                    self._rebuild(dict(wanted))  # a bad option raises here: nothing changed
            self._named = self._named or bool(named)

    def acquire(self) -> bool:
        """Count one more started lease; True when the device was running already."""
        with self._lock:
            self._running += 1
            if self._running == 1:
                self._camera.start()
                return False
            return True

    def release(self) -> None:
        with self._lock:
            if self._running == 0:
                return
            self._running -= 1
            if self._running == 0:
                self._camera.stop()  # bounded (capture.py); clears the newest frame

    @property
    def running(self) -> bool:
        return self._running > 0


class CameraLease:
    """A Camera (drivers/camera/interface.py) on a shared device: see the module."""

    kind = KIND

    def __init__(self, owner: CameraOwner) -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self._started = False
        self._hub = EventHub()
        # Through a weak reference: the owner's hub must not keep a dropped lease (and so
        # itself, through the lease) alive.
        ref = weakref.ref(self)

        def forward(event: DeviceEvent) -> None:
            lease = ref()
            if lease is not None:
                lease._forward(event)

        weakref.finalize(self, owner.hub.subscribe(forward))

    @property
    def source(self) -> Source:
        return self.owner.source

    @property
    def description(self) -> str:
        return str(getattr(self.owner.camera, "description", self.owner.key))

    @property
    def fps(self) -> float:
        return float(getattr(self.owner.camera, "fps", 15.0))

    # Device

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            if self.owner.acquire():
                # Joining a device that already runs: its health so far, as a start would.
                self._hub.publish(HealthChanged(kind=KIND, health=self.owner.camera.health()))

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
            self.owner.release()

    def health(self) -> Health:
        return self.owner.camera.health() if self._started else _NOT_STARTED

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def _forward(self, event: DeviceEvent) -> None:
        if self._started:  # the device's events are this lease's only while it is started
            self._hub.publish(event)

    # Camera

    def latest_frame(self) -> Frame | None:
        return self.owner.camera.latest_frame() if self._started else None

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        if not self._started:
            return None
        frame: Frame | None = self.owner.camera.next_frame(after=after, timeout_s=timeout_s)
        return frame if self._started else None


_owners: weakref.WeakValueDictionary[str, CameraOwner] = weakref.WeakValueDictionary()
_owners_lock = threading.Lock()


def lease_camera(source: Source = 0, *, prefer: dict[str, Any] | None = None,
                 make: MakeCamera = _opencv, **options: Any) -> CameraLease:
    """A lease on the process's one driver of `source` (made on first use, no I/O).

    `options` name capture settings (OpenCvCamera's keywords); `prefer` only suggests them.
    A bad option raises ValueError here, at set-up, as the driver's constructor does.
    """
    key = device_key(source)
    with _owners_lock:
        owner = _owners.get(key)
        if owner is None:
            owner = CameraOwner(source, make)
            _owners[key] = owner
    owner.settle(dict(options), dict(prefer or {}))
    return CameraLease(owner)


def shared_camera(source: Source = 0, **options: Any) -> CameraLease:
    """The camera kind's driver (drivers/registry.py): OpenCvCamera, shared per device."""
    return lease_camera(source, **options)


def simulated_shared_camera(source: Source | None = None, **options: Any) -> CameraLease:
    """The same on the camera simulator's stream (`kioskctl sim camera serve`)."""
    from drivers.camera.opencv import DEFAULT_SIMULATOR_URL

    return lease_camera(source or DEFAULT_SIMULATOR_URL, **options)
