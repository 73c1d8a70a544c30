"""The camera's typed interface: frames as numpy RGB arrays, health, and no citizen data kept.

Frames are read by whoever needs them (face verification, a camera-based QR decoder) through
`latest_frame()` / `next_frame()`; publishing 30 events a second through observers would
put the UI thread's bridge under load for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

KIND = "camera"  # Device.kind: the key in the kiosk's status document

# Larger frames cost the face engine time for nothing (shared/docs/vision-notes.md: HOG on
# 640x480 already takes 26-118 ms); a driver scales down to at most this before publishing.
MAX_WIDTH = 1920
MAX_HEIGHT = 1080


class CameraHealthCode(StrEnum):
    OK = "ok"
    CAMERA_MISSING = "camera-missing"  # missing: no device; the driver retries
    CAMERA_ERROR = "camera-error"  # missing: the device is there but capture fails
    FROZEN = "frozen"  # degraded: the same frame for seconds
    TOO_DARK = "too-dark"  # degraded: frames arrive but show nothing usable


@dataclass(frozen=True, repr=False, eq=False)
class Frame:
    """One captured image: `pixels` is height x width x 3, uint8, RGB order, C-contiguous.

    The shape rules are checked here because each mistake fails silently downstream
    (vision-notes.md): a mirrored negative-stride view finds no faces, BGR moves an encoding by
    half the match tolerance, RGBA or float arrays raise inside dlib. Drivers convert before
    they build a Frame (OpenCV's BGR to RGB, `np.ascontiguousarray` after a flip).

    Compared and hashed by identity: a generated __eq__ would compare the arrays, which raises.
    """

    pixels: NDArray[np.uint8]
    sequence: int  # increases by one per captured frame since start()
    captured_at: float  # time.monotonic() at capture

    def __post_init__(self) -> None:
        shape = getattr(self.pixels, "shape", ())
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError("a frame is height x width x 3 (RGB)")
        if str(self.pixels.dtype) != "uint8":
            raise ValueError("a frame's pixels are uint8")
        if not self.pixels.flags["C_CONTIGUOUS"]:
            raise ValueError("a frame is C-contiguous (np.ascontiguousarray after a flip)")
        if not (0 < shape[1] <= MAX_WIDTH and 0 < shape[0] <= MAX_HEIGHT):
            raise ValueError(f"a frame is at most {MAX_WIDTH}x{MAX_HEIGHT}")
        if self.sequence < 0:
            raise ValueError("a frame's sequence is not negative")

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def __repr__(self) -> str:  # a face is personal data; never dump the pixels
        return f"Frame(#{self.sequence}, {self.width}x{self.height})"


@dataclass(frozen=True)
class CameraStarted(DeviceEvent):
    camera: str
    width: int
    height: int
    fps: float


@runtime_checkable
class Camera(Device, Protocol):
    """A started camera captures continuously into a one-frame buffer."""

    kind: str  # KIND

    def latest_frame(self) -> Frame | None:
        """The newest frame, or None before the first one; never blocks."""
        ...

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        """Block until a frame with a sequence greater than `after` (default: the latest)
        arrives; None on timeout or when the camera stops."""
        ...
