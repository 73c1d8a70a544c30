"""A phone showing a QR code in front of the simulated camera (`PUT /sim/v1/qr`).

The phone and its code are drawn once by the QR frame generator (simulators/qr/frames.py: a
lit screen in a cluttered hall, tilted, a little blurred); each frame then moves it by a pixel
or two (a hand is never still) and adds one of a few precomputed sensor-noise fields, so the
camera driver never sees a frozen image and rendering costs about a millisecond a frame. A
camera QR scanner (drivers/qr/camera.py) decodes it from the stream like any phone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MAX_TEXT = 1024  # drivers/qr/interface.MAX_PAYLOAD_BYTES: a longer code is refused anyway
_NOISE_FIELDS = 6
_TREMOR = ((0, 0), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1))


class QrScene:
    """frame(t, asked) like a persona's; `asked` is ignored (a phone does not nod)."""

    name = "qr"

    def __init__(self, text: str, *, seed: int = 0, width: int = 640, height: int = 480,
                 module_px: float = 6.0, tilt_deg: float = 10.0, fps: float = 15.0) -> None:
        from simulators.qr.frames import Degradation, FrameGenerator

        if not 0 < len(text) <= MAX_TEXT:
            raise ValueError(f"a code holds 1 to {MAX_TEXT} characters")
        self.chars = len(text)
        self.seed, self.width, self.height, self.fps = seed, width, height, fps
        generator = FrameGenerator(seed, width=width, height=height)
        self._base = generator.render(text, Degradation(
            module_px=module_px, tilt_deg=tilt_deg, blur_sigma=0.5, noise_sigma=0.0,
            contrast=0.9))
        rng = np.random.default_rng(seed)
        self._noise = [rng.integers(-3, 4, size=self._base.shape, dtype=np.int16)
                       for _ in range(_NOISE_FIELDS)]

    def frame(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        index = int(t * self.fps)
        dx, dy = _TREMOR[index % len(_TREMOR)]
        moved = np.roll(self._base, (dy, dx), axis=(0, 1))
        noisy = moved.astype(np.int16) + self._noise[index % _NOISE_FIELDS]
        return np.ascontiguousarray(np.clip(noisy, 0, 255).astype(np.uint8))
