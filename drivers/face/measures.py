"""Head pose, mouth and eye measures from 68 landmarks, and the planar-motion test.

Formulas and magnitudes are in shared/docs/vision-notes.md and docs/face.md. Points are in
dlib's order: 0-16 jaw, 27-35 nose, 36-41 and 42-47 eyes, 48-67 mouth (60-67 inner lip).
Frames are the camera's raw (not mirrored) view: a person turning to their own left moves
their nose to the image's right, so yaw increases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

NOSE_TIP = 30
UPPER_LIP = 51
CHIN = 8
JAW_RIGHT, JAW_LEFT = 0, 16  # the person's right side is the image's left
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
EYES = slice(36, 48)
INNER_LIP = slice(60, 68)


@dataclass(frozen=True)
class FaceMeasures:
    yaw: float  # nose position across the jaw, 0 when frontal; + when turned to their left
    pitch: float  # eyes-to-nose-tip height over eyes-to-upper-lip; grows when nodding down
    mouth: float  # inner-lip opening over mouth width
    ear: float  # eye aspect ratio, mean of both eyes
    eye_distance: float  # between the eye centres, px: the face's scale


def _dist(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.hypot(*(a - b)))


def eye_aspect_ratio(eye: NDArray[np.float64]) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|) over one eye's six points."""
    width = _dist(eye[0], eye[3])
    if width <= 1e-6:
        return 0.0
    return (_dist(eye[1], eye[5]) + _dist(eye[2], eye[4])) / (2.0 * width)


def mouth_ratio(points: NDArray[np.float64]) -> float:
    inner = points[INNER_LIP]  # 60..67
    width = _dist(inner[0], inner[4])
    if width <= 1e-6:
        return 0.0
    gap = (_dist(inner[1], inner[7]) + _dist(inner[2], inner[6]) + _dist(inner[3], inner[5])) / 3
    return gap / width


def upright(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """The points rotated about their centre so that the eye line is level: yaw and pitch are
    measured in the face's own frame, so that a tilted head (or a photo rolled in the hand)
    does not read as a turn."""
    dx, dy = points[LEFT_EYE].mean(axis=0) - points[RIGHT_EYE].mean(axis=0)
    angle = float(np.arctan2(dy, dx))
    if abs(angle) < 1e-3:
        return points
    c, s = np.cos(-angle), np.sin(-angle)
    centre = points.mean(axis=0)
    return (points - centre) @ np.array([[c, s], [-s, c]]) + centre


def measure(points: NDArray[np.float64]) -> FaceMeasures:
    points = upright(points)
    jaw_width = points[JAW_LEFT, 0] - points[JAW_RIGHT, 0]
    yaw = (float((points[NOSE_TIP, 0] - points[JAW_RIGHT, 0]) / jaw_width) - 0.5
           if abs(jaw_width) > 1e-6 else 0.0)
    eye_mid = points[EYES].mean(axis=0)
    ear = (eye_aspect_ratio(points[RIGHT_EYE]) + eye_aspect_ratio(points[LEFT_EYE])) / 2
    eye_distance = _dist(points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0))
    # Against the upper lip, not the chin (an open mouth drops the chin and is no nod) nor the
    # eye distance (which shrinks on a turn): vertical lengths do not change on a turn.
    lip_height = points[UPPER_LIP, 1] - eye_mid[1]
    pitch = (float((points[NOSE_TIP, 1] - eye_mid[1]) / lip_height)
             if lip_height > 1e-6 else 0.0)
    return FaceMeasures(yaw=yaw, pitch=pitch, mouth=mouth_ratio(points), ear=ear,
                        eye_distance=eye_distance)


@dataclass(frozen=True)
class PlanarFit:
    """How baseline -> current landmarks moved, in units of the current eye distance.

    `deformation`: what a similarity (shift, rotation, scale) leaves unexplained: 0 for a face
    that only moved or rolled. `residual`: what one homography leaves unexplained: near 0 when
    the points lie on a plane (a photo moved or tilted), large for a real head turn, whose nose
    leaves the plane of the eyes and mouth.
    """

    deformation: float
    residual: float

    @property
    def planar_share(self) -> float:
        """The part of the deformation the homography cannot explain (1 = none explained)."""
        return self.residual / self.deformation if self.deformation > 1e-9 else 1.0


def _rms(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def similarity_residual(base: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    """RMS px left after the best similarity transform maps base onto cur (Umeyama)."""
    mb, mc = base.mean(axis=0), cur.mean(axis=0)
    b, c = base - mb, cur - mc
    cov = c.T @ b / len(base)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    sign = np.diag([1.0, d])
    rot = u @ sign @ vt
    var_b = float(np.mean(np.sum(b ** 2, axis=1)))
    scale = float(np.trace(np.diag(s) @ sign) / var_b) if var_b > 1e-12 else 1.0
    fitted = (scale * (rot @ b.T)).T + mc
    return _rms(fitted, cur)


def homography_residual(base: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    """RMS px left after the least-squares homography maps base onto cur."""
    import cv2

    h, _ = cv2.findHomography(base.astype(np.float32), cur.astype(np.float32), 0)
    if h is None:
        return float("inf")
    ones = np.ones((len(base), 1))
    projected = np.hstack([base, ones]) @ h.T
    w = projected[:, 2:3]
    if np.any(np.abs(w) < 1e-9):
        return float("inf")
    return _rms(projected[:, :2] / w, cur)


def planar_fit(base: NDArray[np.float64], cur: NDArray[np.float64]) -> PlanarFit:
    scale = measure(cur).eye_distance
    if scale <= 1e-6:
        return PlanarFit(deformation=0.0, residual=0.0)
    return PlanarFit(deformation=similarity_residual(base, cur) / scale,
                     residual=homography_residual(base, cur) / scale)


def planar_prediction(base: NDArray[np.float64], cur: NDArray[np.float64],
                      fit_on: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """Where the baseline's points would be now if the face were a plane, with the homography
    fitted on the points `fit_on` (those an eye blink or an open mouth does not move)."""
    import cv2

    h, _ = cv2.findHomography(base[fit_on].astype(np.float32), cur[fit_on].astype(np.float32), 0)
    if h is None:
        return None
    projected = np.hstack([base, np.ones((len(base), 1))]) @ h.T
    w = projected[:, 2:3]
    if np.any(np.abs(w) < 1e-9):
        return None
    return projected[:, :2] / w
