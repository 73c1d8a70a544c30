"""What surrounds a face: a room to stand in, and the camera sensor's noise and lighting.

Everything here is cheap per frame: backgrounds are drawn once per seed, noise patterns once
per frame size (then picked per frame), and lighting jitter is a 256-entry lookup table.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from numpy.typing import NDArray

U8 = NDArray[np.uint8]
NOISE_PATTERNS = 8


@functools.lru_cache(maxsize=16)
def room(seed: int, width: int = 640, height: int = 480) -> U8:
    """An empty service hall: a wall with a window or notice board, a door, a counter edge."""
    rng = np.random.default_rng([seed, 101])
    wall = np.array([rng.uniform(185, 225), rng.uniform(180, 215), rng.uniform(160, 200)])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.18 * ((xs / width - rng.uniform(0.2, 0.8)) ** 2) - 0.12 * (ys / height)
    img = (light[..., None] * wall[None, None, :]).astype(np.float32)
    # a window (bright) or notice board (coloured) on the wall
    x0 = int(rng.uniform(0.05, 0.55) * width)
    y0 = int(rng.uniform(0.08, 0.2) * height)
    w, h = int(rng.uniform(0.2, 0.35) * width), int(rng.uniform(0.25, 0.4) * height)
    colour = (rng.uniform(225, 250, 3) if rng.random() < 0.5 else rng.uniform(60, 160, 3))
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), tuple(float(c) for c in colour), -1)
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), (90.0, 80.0, 70.0), 4)
    # a door
    dx = int(rng.uniform(0.65, 0.85) * width)
    cv2.rectangle(img, (dx, int(0.12 * height)), (dx + int(0.14 * width), int(0.8 * height)),
                  (120.0, 95.0, 70.0), -1)
    cv2.circle(img, (dx + int(0.12 * width), int(0.5 * height)), 4, (200.0, 190.0, 120.0), -1)
    # skirting and floor, then a counter edge in front
    floor = int(0.8 * height)
    img[floor:] = np.array([rng.uniform(120, 160), rng.uniform(110, 140), rng.uniform(90, 120)])
    img[floor - 6:floor] = (95, 85, 75)
    img[int(0.93 * height):] = (70, 70, 78)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))


@functools.lru_cache(maxsize=4)
def _noise(width: int, height: int) -> tuple[tuple[U8, U8], ...]:
    rng = np.random.default_rng(20260707)
    patterns = []
    for _ in range(NOISE_PATTERNS):
        n = rng.normal(0.0, 1.6, size=(height, width, 3))
        patterns.append((np.clip(n, 0, 6).astype(np.uint8), np.clip(-n, 0, 6).astype(np.uint8)))
    return tuple(patterns)


class Sensor:
    """Per-frame sensor noise and lighting jitter (deterministic in the seed and t)."""

    def __init__(self, seed: int, width: int, height: int, *, gain: float = 1.0,
                 offset: float = 0.0, noise_scale: int = 1) -> None:
        # noise_scale: how many extra noise patterns are added (a dark sensor is noisier)
        self._noise = _noise(width, height)
        self._gain = gain
        self._offset = offset
        self._noise_scale = noise_scale
        rng = np.random.default_rng([seed, 202])
        self._freq = rng.uniform(0.2, 0.9, size=2)
        self._phase = rng.uniform(0, 2 * math.pi, size=2)
        self._seed = seed
        self._x = np.arange(256, dtype=np.float32)

    def apply(self, image: U8, t: float) -> U8:
        k = round(t * 15)
        flicker = 0.02 * math.sin(2 * math.pi * self._freq[0] * t + self._phase[0]) + \
            0.012 * math.sin(2 * math.pi * self._freq[1] * t + self._phase[1])
        # a per-frame exposure wobble that never repeats exactly
        wobble = ((k * 2654435761 + self._seed * 97) % 1000) / 1000.0 - 0.5
        gain = self._gain * (1.0 + flicker + 0.006 * wobble)
        lut = np.clip(self._x * gain + self._offset, 0, 255).astype(np.uint8)
        out = cv2.LUT(image, lut)
        # a sum of two (dark: more) of the precomputed patterns, chosen per frame
        for i in range(1 + self._noise_scale):
            pos, neg = self._noise[(k * (2 * i + 1) + i + self._seed) % NOISE_PATTERNS]
            cv2.add(out, pos, dst=out)
            cv2.subtract(out, neg, dst=out)
        return out
