"""The camera's typed interface: frames as numpy RGB arrays, health, and no citizen data kept.

Frames are read by whoever needs them (face verification, a camera-based QR decoder) through
`latest_frame()` / `next_frame()`; publishing 30 events a second through observers would
put the UI thread's bridge under load for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from drivers.base import Device, DeviceEvent

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Health codes: "ok", "camera-missing" (no device), "camera-error" (capture fails),
# "frozen" (degraded: the same frame for seconds), "too-dark" (degraded).


@dataclass(frozen=True, repr=False, eq=False)
class Frame:
    """One captured image: `pixels` is height x width x 3, uint8, RGB order.

    Compared and hashed by identity: a generated __eq__ would compare the arrays, which raises.
    """

    pixels: NDArray[np.uint8]
    sequence: int  # increases by one per captured frame since start()
    captured_at: float  # time.monotonic() at capture

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

    kind: str  # "camera"

    def latest_frame(self) -> Frame | None:
        """The newest frame, or None before the first one; never blocks."""
        ...

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        """Block until a frame with a sequence greater than `after` (default: the latest)
        arrives; None on timeout or when the camera stops."""
        ...
