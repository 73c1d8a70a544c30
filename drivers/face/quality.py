"""Capture quality: one face, big, bright, frontal and sharp enough; each with its own reason.

Also the calibrated 1:1 verification tolerance (docs/face.md has the measured distances).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from drivers.face.interface import FaceBox
from drivers.face.measures import FaceMeasures

if TYPE_CHECKING:
    from numpy.typing import NDArray

# Measured on the shipped photos (simulators/camera/photos.py, docs/face.md): person A against
# A 0.33-0.43, A against B 0.82-0.87. 0.55 leaves 0.12 above the largest same-person distance
# (a turned or JPEG-compressed live frame sits a little further off) and 0.27 below the
# nearest other person: stricter than dlib's 0.6 because a false accept pays someone's pension.
VERIFY_TOLERANCE = 0.55

MIN_FACE_PX = 120  # box width; the 320-px downscale detector needs about 130 in a 640 frame
MIN_BRIGHTNESS = 60.0  # mean luma (0-255) of the face box
MAX_FRONTAL_YAW = 0.12  # ~15 degrees (vision-notes: 0.1 ~ 13)
MAX_ROLL_DEGREES = 20.0
MIN_SHARPNESS = 25.0  # Laplacian variance of the face, resampled to SHARPNESS_SIZE
SHARPNESS_SIZE = 128


class QualityReason(StrEnum):
    NO_FACE = "no-face"
    TWO_FACES = "two-faces"
    FACE_TOO_SMALL = "face-too-small"
    TOO_DARK = "too-dark"
    NOT_FRONTAL = "not-frontal"
    BLURRED = "blurred"


@dataclass(frozen=True)
class QualityVerdict:
    reasons: tuple[str, ...]
    box: FaceBox | None = None
    measures: FaceMeasures | None = None
    brightness: float = 0.0
    sharpness: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.reasons


def _crop(pixels: NDArray[np.uint8], box: FaceBox) -> NDArray[np.uint8]:
    h, w = pixels.shape[:2]
    top, bottom = max(box.top, 0), min(box.bottom, h)
    left, right = max(box.left, 0), min(box.right, w)
    return pixels[top:bottom, left:right]


def luma(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)


def brightness(pixels: NDArray[np.uint8], box: FaceBox | None = None) -> float:
    """Mean luma of the face box (or of the frame)."""
    region = _crop(pixels, box) if box is not None else pixels
    if region.size == 0:
        return 0.0
    import cv2

    # Mean of the RGB->Y weights without converting every pixel: cheap on a whole frame.
    r, g, b = cv2.mean(np.ascontiguousarray(region))[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def sharpness(pixels: NDArray[np.uint8], box: FaceBox) -> float:
    """Variance of the Laplacian of the face, resampled to a fixed size so that the number
    does not depend on how big the face is."""
    import cv2

    region = _crop(pixels, box)
    if region.size == 0:
        return 0.0
    grey = cv2.resize(luma(region), (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def roll_degrees(points: NDArray[np.float64]) -> float:
    right = points[36:42].mean(axis=0)
    left = points[42:48].mean(axis=0)
    dx, dy = left - right
    return float(np.degrees(np.arctan2(dy, dx)))


def assess(pixels: NDArray[np.uint8], boxes: list[FaceBox],
           points: NDArray[np.float64] | None, measures: FaceMeasures | None) -> QualityVerdict:
    """The verdict for a frame whose faces (largest first) and landmarks of the first are known."""
    if not boxes:
        return QualityVerdict(reasons=(QualityReason.NO_FACE,), brightness=brightness(pixels))
    box = boxes[0]
    reasons: list[str] = []
    if len(boxes) > 1:
        reasons.append(QualityReason.TWO_FACES)
    if box.right - box.left < MIN_FACE_PX:
        reasons.append(QualityReason.FACE_TOO_SMALL)
    light = brightness(pixels, box)
    if light < MIN_BRIGHTNESS:
        reasons.append(QualityReason.TOO_DARK)
    if measures is not None and points is not None and (
            abs(measures.yaw) > MAX_FRONTAL_YAW or abs(roll_degrees(points)) > MAX_ROLL_DEGREES):
        reasons.append(QualityReason.NOT_FRONTAL)
    sharp = sharpness(pixels, box)
    if sharp < MIN_SHARPNESS:
        reasons.append(QualityReason.BLURRED)
    return QualityVerdict(reasons=tuple(reasons), box=box, measures=measures, brightness=light,
                          sharpness=sharp)
