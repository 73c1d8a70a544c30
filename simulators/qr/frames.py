"""A seeded generator of camera frames that show a QR code on a phone, degraded as cameras see
them: tilt, blur, sensor noise, low contrast, glare and the moiré of a phone screen.

    generator = FrameGenerator(seed=7)                    # 1280x720 RGB frames
    frame = generator.render("AgAAAB...", Degradation(tilt_deg=30, blur_sigma=1.2))
    for sample in degraded_set(500, seed=1): sample.payload, sample.pixels, sample.degradation

The same seed gives the same frames byte for byte (numpy's PCG64 and OpenCV's deterministic
warps), so the benchmark and the tests decode the same set on every machine. The code is
drawn by segno at ECC level M (vision-notes.md: fewer, bigger modules beat more error
correction for a camera) on a phone's lit screen, which is then placed in a cluttered scene
through a perspective warp. Moiré comes from the screen's pixel grid: a fine periodic
pattern on the screen, resampled by the warp, beats against the camera's grid.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

WIDTH, HEIGHT = 1280, 720
QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
TOKEN_LENGTH = 56  # the central simulator's e-card tokens (simulators/central/ecard_tokens.py)


@dataclass(frozen=True)
class Degradation:
    """How one frame is spoiled. Zero everywhere (with the defaults) is a clean, square code."""

    module_px: float = 7.0  # size of one module in the frame, before the tilt shrinks it
    rotate_deg: float = 0.0  # in the image plane
    tilt_deg: float = 0.0  # out of plane: the phone held at an angle (perspective)
    blur_sigma: float = 0.0  # Gaussian, pixels: focus and motion
    noise_sigma: float = 0.0  # Gaussian sensor noise, grey levels
    contrast: float = 1.0  # 1 = black on white; 0.3 = dim screen, grey on grey
    glare: float = 0.0  # 0..1: a specular highlight washing part of the code out
    moire: float = 0.0  # 0..1: amplitude of the screen's pixel-grid pattern

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class Sample:
    payload: str
    pixels: NDArray[np.uint8]
    degradation: Degradation


def code_matrix(payload: str | bytes, error: str = "m") -> NDArray[np.uint8]:
    """The code's modules (1 = dark) with its quiet zone."""
    import segno

    code = segno.make_qr(payload, error=error, boost_error=False)
    modules = np.array([list(row) for row in code.matrix], dtype=np.uint8)
    return np.pad(modules, QUIET_ZONE)


class FrameGenerator:
    def __init__(self, seed: int = 0, *, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self.rng = np.random.default_rng(seed)

    def token(self) -> str:
        letters = self.rng.integers(0, len(TOKEN_ALPHABET), TOKEN_LENGTH)
        return "".join(TOKEN_ALPHABET[i] for i in letters)

    def random_degradation(self) -> Degradation:
        """A hall's mix: every frame somewhat spoiled, one to three ways badly."""
        rng = self.rng
        hard = set(rng.choice(6, size=int(rng.integers(1, 4)), replace=False).tolist())

        def pick(index: int, mild: tuple[float, float], bad: tuple[float, float]) -> float:
            low, high = bad if index in hard else mild
            return float(rng.uniform(low, high))

        return Degradation(
            module_px=float(rng.uniform(3.5, 9.0)),
            rotate_deg=float(rng.uniform(-180, 180)),
            tilt_deg=pick(0, (0, 15), (15, 40)),
            blur_sigma=pick(1, (0, 0.7), (0.7, 2.0)),
            noise_sigma=pick(2, (0, 4), (4, 14)),
            contrast=pick(3, (0.6, 1.0), (0.25, 0.6)),
            glare=pick(4, (0, 0.15), (0.15, 0.55)),
            moire=pick(5, (0, 0.1), (0.1, 0.35)),
        )

    def render(self, payload: str | bytes, degradation: Degradation | None = None,
               ) -> NDArray[np.uint8]:
        """One HxWx3 RGB uint8 frame showing `payload` as a QR code on a phone."""
        d = degradation or Degradation()
        rng = self.rng
        scene = self._scene()
        screen = self._screen(code_matrix(payload), d)
        # Where the phone goes: its size is set by the module size, its centre kept inside
        # the frame so the whole code is seen.
        h, w = screen.shape
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        quad = _perspective_quad(w, h, d, rng)
        span = quad.max(axis=0) - quad.min(axis=0)
        if span[0] >= self.width or span[1] >= self.height:  # too big for the frame: shrink
            quad *= 0.95 * min(self.width / span[0], self.height / span[1])
        low = -quad.min(axis=0)
        high = np.array([self.width, self.height]) - quad.max(axis=0)
        offset = rng.uniform(low, np.maximum(low, high))
        quad = (quad + offset).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(src, quad)
        # Painted straight onto the scene: BORDER_TRANSPARENT leaves pixels outside the phone.
        image = cv2.warpPerspective(screen, matrix, (self.width, self.height), dst=scene,
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        if d.glare > 0:
            _glare(image, quad, d.glare, rng)
        if d.blur_sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), d.blur_sigma)
        if d.noise_sigma > 0:
            cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))  # OpenCV's generator, seeded from ours
            noise = np.empty(image.shape, np.int16)
            cv2.randn(noise, 0, d.noise_sigma)
            image = np.clip(cv2.add(image.astype(np.int16), noise), 0, 255).astype(np.uint8)
        # A screen's light is a little blue, a hall's a little yellow: colour, not just grey.
        tint = rng.uniform(0.9, 1.1, 3)
        channels = [cv2.convertScaleAbs(image, alpha=float(t)) for t in tint]
        return np.ascontiguousarray(cv2.merge(channels))

    def _scene(self) -> NDArray[np.uint8]:
        """A cluttered background: smooth light, some blocks (a counter, a leaflet)."""
        rng = self.rng
        small = rng.uniform(60, 200, (9, 16)).astype(np.uint8)
        scene = cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        for _ in range(int(rng.integers(2, 7))):
            x, y = int(rng.integers(0, self.width)), int(rng.integers(0, self.height))
            bw, bh = int(rng.integers(40, 300)), int(rng.integers(40, 200))
            cv2.rectangle(scene, (x, y), (x + bw, y + bh), int(rng.uniform(20, 235)), -1)
        return np.ascontiguousarray(scene)

    def _screen(self, modules: NDArray[np.uint8], d: Degradation) -> NDArray[np.uint8]:
        """The phone: a dark body around a lit screen that shows the code."""
        rng = self.rng
        # Drawn at 3 px a module and scaled by the warp: the warp's resampling is what a
        # camera does to a screen.
        cell = 3
        code = np.kron(1 - modules, np.ones((cell, cell), np.uint8)).astype(np.float32)
        light = float(rng.uniform(215, 250))
        dark = light - (light - 10) * d.contrast
        code = dark + (light - dark) * code
        margin = code.shape[0] // 6
        screen = np.full((code.shape[0] + 4 * margin, code.shape[1] + 2 * margin), light,
                         np.float32)
        screen[margin:margin + code.shape[0], margin:margin + code.shape[1]] = code
        if d.moire > 0:
            # The screen's sub-pixel grid, slightly skewed: beats against the camera's grid.
            yy, xx = np.mgrid[0:screen.shape[0], 0:screen.shape[1]].astype(np.float32)
            angle = float(rng.uniform(0, np.pi))
            period = float(rng.uniform(1.6, 2.6))
            phase = (xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period)
            screen *= 1 - d.moire * 0.5 * (1 + np.cos(phase))
        bezel = max(4, margin // 2)
        phone = np.pad(screen, bezel, constant_values=float(rng.uniform(10, 40)))
        return np.clip(phone, 0, 255).astype(np.uint8)


def _perspective_quad(w: int, h: int, d: Degradation, rng: np.random.Generator,
                      ) -> NDArray[np.float64]:
    """The phone's corners in the frame: scaled to the module size, tilted, rotated."""
    scale = d.module_px / 3.0  # the screen was drawn at 3 px a module
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    corners *= scale
    # Out-of-plane tilt about a random axis in the plane: the far edge gets shorter.
    axis = float(rng.uniform(0, np.pi))
    tilt = np.radians(d.tilt_deg)
    direction = np.array([np.cos(axis), np.sin(axis)])
    along = corners @ direction
    depth = 1 + along * np.sin(tilt) / (np.abs(corners).max() * 3)
    corners = corners - np.outer(along * (1 - np.cos(tilt)), direction)
    corners = corners / depth[:, None]
    angle = np.radians(d.rotate_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray(corners @ rotation.T, dtype=np.float64)


def _glare(image: NDArray[np.uint8], quad: NDArray[np.float32], strength: float,
           rng: np.random.Generator) -> None:
    """A bright, soft highlight somewhere on the phone (in place, within 3 radii only)."""
    extent = quad.max(axis=0) - quad.min(axis=0)
    centre = quad.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * extent
    radius = float(rng.uniform(0.1, 0.3)) * float(extent.max())
    height, width = image.shape
    x0, x1 = max(0, int(centre[0] - 3 * radius)), min(width, int(centre[0] + 3 * radius) + 1)
    y0, y1 = max(0, int(centre[1] - 3 * radius)), min(height, int(centre[1] + 3 * radius) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    r2 = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2).astype(np.float32)
    blob = np.exp(-r2 / np.float32(2 * radius ** 2)) * np.float32(strength)
    patch = image[y0:y1, x0:x1].astype(np.float32)
    # Glare lifts dark modules towards white: what washes a code out.
    image[y0:y1, x0:x1] = np.clip(patch + (255 - patch) * blob, 0, 255).astype(np.uint8)


def degraded_set(count: int, seed: int = 0, *, width: int = WIDTH,
                 height: int = HEIGHT) -> list[Sample]:
    """`count` frames of random tokens with random degradations, the same for a seed."""
    generator = FrameGenerator(seed, width=width, height=height)
    samples = []
    for _ in range(count):
        payload = generator.token()
        degradation = generator.random_degradation()
        samples.append(Sample(payload, generator.render(payload, degradation), degradation))
    return samples
