"""Landmark-driven piecewise-affine warps: a head that turns, nods, opens its mouth and blinks.

A motion is a set of target positions for the 68 landmarks (plus a few control points around
the head). The control points are triangulated (Delaunay, on the neutral face, with fixed
points on the border of the region of interest), and each triangle is mapped affinely. The
result is stored as a dense *backward displacement field* over the region: for each output
pixel, where in the neutral image to sample. Fields combine linearly (amplitude times field,
plus natural head motion), so a frame costs one multiply-add per active field and one
cv2.remap of the face region.

Head rotations come from a rough depth model of the 68 points (nose tip in front, jaw outline
and ears far behind) rotated about an axis behind the face: the nose slides sideways relative
to the jaw outline on a turn, the nose tip drops relative to the eyes on a nod, which a
planar photo cannot do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

JAW = slice(0, 17)
FIELD_SHRINK = 2
NOSE_TIP = 30
CHIN = 8


def _depth_model() -> NDArray[np.float64]:
    """Depth (towards the camera) of the 68 points, in face widths, eye corners at 0."""
    z = np.zeros(68)
    j = np.arange(17)
    z[JAW] = -0.50 + 0.42 * np.sin(np.pi * j / 16)  # ears far back, chin 0.08 behind the eyes
    z[17:27] = [-0.06, -0.01, 0.02, 0.04, 0.05, 0.05, 0.04, 0.02, -0.01, -0.06]
    z[27:31] = [0.04, 0.09, 0.15, 0.22]
    z[31:36] = [0.10, 0.13, 0.15, 0.13, 0.10]
    z[36:48] = [-0.05, -0.01, -0.01, 0.0, -0.01, -0.01, 0.0, -0.01, -0.01, -0.05, -0.01, -0.01]
    z[48:60] = [-0.02, 0.04, 0.07, 0.08, 0.07, 0.04, -0.02, 0.04, 0.07, 0.08, 0.07, 0.04]
    z[60:68] = [-0.01, 0.05, 0.06, 0.05, -0.01, 0.05, 0.06, 0.05]
    return z


DEPTH = _depth_model()
AXIS_DEPTH = -0.55  # the neck's rotation axis, behind the face (face widths)


@dataclass(frozen=True, eq=False)
class Rig:
    """Control points of one face in one frame position, and the region the warp covers."""

    points: F32  # N x 2: 68 landmarks, then extra head points, then fixed border points
    depth: NDArray[np.float64]  # N, face widths (border points: the axis depth, they stay put)
    moving: NDArray[np.bool_]  # N: False for the fixed border points
    roi: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    triangles: NDArray[np.int32]  # T x 3 indices into points
    face_width: float
    pivot: tuple[float, float]  # x (face middle), y (ear level): where rotations turn about

    @property
    def landmarks(self) -> F32:
        return self.points[:68]


def make_rig(landmarks: F32, frame_size: tuple[int, int]) -> Rig:
    """The control points for a face whose 68 landmarks (frame pixels) are given."""
    width_px, height_px = frame_size
    marks = landmarks.astype(np.float32)
    fw = float(np.linalg.norm(marks[16] - marks[0]))
    centre = (marks[0] + marks[16]) / 2
    brow_y = float(marks[17:27, 1].min())
    chin = marks[CHIN]
    up = (centre - chin) / max(float(np.linalg.norm(centre - chin)), 1.0)  # towards the forehead
    extras: list[tuple[float, float]] = []
    extra_depth: list[float] = []
    # Forehead: above the eyebrows, moving like the eyes.
    for k, frac in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        bx = marks[17 + round(frac * 9)]
        p = bx + up * fw * 0.28
        extras.append((float(p[0]), float(p[1])))
        extra_depth.append([-0.12, -0.02, 0.02, -0.02, -0.12][k])
    # A ring around the head and neck that stays where the skull's outline is.
    radius_x, radius_y = fw * 0.85, fw * 1.05
    ring_c = np.array([centre[0], (brow_y + chin[1]) / 2 - fw * 0.05], np.float32)
    for k in range(16):
        a = 2 * math.pi * k / 16
        extras.append((float(ring_c[0] + radius_x * math.cos(a)),
                       float(ring_c[1] + radius_y * math.sin(a))))
        extra_depth.append(AXIS_DEPTH)
    x0 = max(0, int(ring_c[0] - radius_x * 1.35))
    x1 = min(width_px, int(ring_c[0] + radius_x * 1.35))
    y0 = max(0, int(ring_c[1] - radius_y * 1.3))
    y1 = min(height_px, int(ring_c[1] + radius_y * 1.3))
    border = []
    for fx in (0.0, 0.25, 0.5, 0.75, 1.0):
        border += [(x0 + fx * (x1 - 1 - x0), y0), (x0 + fx * (x1 - 1 - x0), y1 - 1)]
    for fy in (0.25, 0.5, 0.75):
        border += [(x0, y0 + fy * (y1 - 1 - y0)), (x1 - 1, y0 + fy * (y1 - 1 - y0))]
    points = np.vstack([marks, np.asarray(extras, np.float32), np.asarray(border, np.float32)])
    # Keep every control point inside the region (a face near the frame edge).
    points[:, 0] = np.clip(points[:, 0], x0, x1 - 1)
    points[:, 1] = np.clip(points[:, 1], y0, y1 - 1)
    depth = np.concatenate([DEPTH, np.asarray(extra_depth), np.full(len(border), AXIS_DEPTH)])
    moving = np.concatenate([np.ones(68 + len(extras), bool), np.zeros(len(border), bool)])
    return Rig(points, depth, moving, (x0, y0, x1, y1), _delaunay(points, (x0, y0, x1, y1)),
               fw, (float(centre[0]), float((marks[0, 1] + marks[16, 1]) / 2)))


def _delaunay(points: F32, roi: tuple[int, int, int, int]) -> NDArray[np.int32]:
    x0, y0, x1, y1 = roi
    subdiv = cv2.Subdiv2D((x0 - 1, y0 - 1, x1 - x0 + 2, y1 - y0 + 2))
    lookup: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points):
        key = (float(x), float(y))
        if key in lookup:
            continue
        lookup[key] = i
        subdiv.insert(key)
    tris = []
    for t in subdiv.getTriangleList():
        idx = [lookup.get((float(t[0]), float(t[1]))), lookup.get((float(t[2]), float(t[3]))),
               lookup.get((float(t[4]), float(t[5])))]
        if None not in idx:
            tris.append(idx)
    return np.asarray(tris, np.int32)


def rotated(rig: Rig, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> F32:
    """Where the control points go when the head turns (yaw: + = the person's own left, i.e.
    the nose moves to the image's right, the camera not being mirrored) and nods (pitch:
    + = chin down)."""
    pts = rig.points.astype(np.float64).copy()
    z = (rig.depth - AXIS_DEPTH) * rig.face_width
    px, py = rig.pivot
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    x = pts[:, 0] - px
    y = pts[:, 1] - py
    # yaw about the vertical axis, then pitch about the horizontal one (orthographic)
    x2 = x * math.cos(yaw) + z * math.sin(yaw)
    z2 = -x * math.sin(yaw) + z * math.cos(yaw)
    y2 = y * math.cos(pitch) + z2 * math.sin(pitch)
    out = np.stack([x2 + px, y2 + py], axis=1)
    out[~rig.moving] = rig.points[~rig.moving]
    return out.astype(np.float32)


@dataclass(eq=False)
class Field:
    """A backward displacement field over a rig's region, and the landmarks' forward motion."""

    backward: F32  # (H x W x 2) / FIELD_SHRINK (region size): sample at (x, y) + backward
    forward: F32  # 68 x 2: how far each landmark moved (at amplitude 1)


def field_for(rig: Rig, targets: F32) -> Field:
    """The piecewise-affine warp that takes rig.points to `targets` (amplitude 1)."""
    x0, y0, x1, y1 = rig.roi
    w, h = x1 - x0, y1 - y0
    src = rig.points.astype(np.float64) - (x0, y0)
    dst = targets.astype(np.float64) - (x0, y0)
    index = np.zeros((h, w), np.int32)
    affines = np.zeros((len(rig.triangles) + 1, 2, 3))
    affines[0, 0, 0] = affines[0, 1, 1] = 1.0  # outside every triangle: identity
    for k, tri in enumerate(rig.triangles, start=1):
        d = dst[tri]
        area = (d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[2, 0] - d[0, 0]) * (d[1, 1] - d[0, 1])
        if abs(area) < 1e-6:
            continue
        affines[k] = cv2.getAffineTransform(d.astype(np.float32), src[tri].astype(np.float32))
        cv2.fillConvexPoly(index, np.round(d).astype(np.int32), k)
    # fillConvexPoly leaves thin gaps on shared edges unfilled when rounding; edges drawn last win,
    # which is harmless for a warp this smooth.
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a = affines[index]
    sx = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
    sy = a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2]
    backward = np.stack([sx - xs, sy - ys], axis=2).astype(np.float32)
    backward[index == 0] = 0.0
    backward = cv2.GaussianBlur(backward, (0, 0), 1.0)  # soften the creases on triangle edges
    # Stored at half resolution (a quarter of the memory; a head holds nine of these): the
    # field is smooth, and Warper scales the weighted sum back up once per frame.
    backward = cv2.resize(backward, (max(1, w // FIELD_SHRINK), max(1, h // FIELD_SHRINK)),
                          interpolation=cv2.INTER_AREA)
    forward = (targets[:68] - rig.points[:68]).astype(np.float32)
    return Field(np.ascontiguousarray(backward), forward)


class Warper:
    """Applies a weighted sum of fields to an image's region of interest, cheaply per frame."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        x0, y0, x1, y1 = rig.roi
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._grid = np.ascontiguousarray(np.stack([xs, ys], axis=2))

    def apply(self, image: NDArray[np.uint8], weighted: list[tuple[float, Field]],
              out: NDArray[np.uint8]) -> F32:
        """Writes the warped region of `image` into `out` (same size); returns the landmarks."""
        x0, y0, x1, y1 = self.rig.roi
        marks = self.rig.landmarks.copy()
        active = [(c, f) for c, f in weighted if abs(c) > 1e-4]
        if not active:
            out[y0:y1, x0:x1] = image[y0:y1, x0:x1]
            return marks
        m_small = np.zeros_like(active[0][1].backward)
        for c, f in active:
            cv2.scaleAdd(f.backward, c, m_small, dst=m_small)
            marks += c * f.forward
        m = cv2.resize(m_small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        cv2.add(m, self._grid, dst=m)
        out[y0:y1, x0:x1] = cv2.remap(image, m, None, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT)
        return marks
