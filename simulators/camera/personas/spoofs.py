"""Presentation attacks: a printed photo (held still, or moved and tilted) and a phone replay.

Both are planar objects in front of the camera: a textured print or a phone (bezel, screen)
posed in 3-D and projected with one homography per frame (cv2.warpPerspective onto the
room, which the transparent border mode leaves untouched around the object). The face on them
is therefore always planar, however the object moves; that is what the liveness engine has to
tell apart from a head.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from simulators.camera.personas.faces import source_face
from simulators.camera.personas.live import (
    CHALLENGES,
    RAMP_UP_S,
    Head,
    LivePerson,
    Performance,
    Performer,
    smoothstep,
)

U8 = NDArray[np.uint8]
FOCAL_PX = 560.0  # a webcam's focal length at 640 x 480 (about 60 degrees across)
SKIN = (196.0, 150.0, 122.0)


@dataclass(frozen=True)
class Pose:
    x: float = 0.0  # px from the frame centre, at the object's distance
    y: float = 0.0
    roll: float = 0.0  # degrees, in the image plane
    tilt_v: float = 0.0  # degrees about the vertical axis (a planar "turn")
    tilt_h: float = 0.0  # degrees about the horizontal axis (a planar "nod")
    scale: float = 1.0


def homography(size: tuple[int, int], pose: Pose, frame: tuple[int, int]) -> NDArray[np.float64]:
    """The homography that places a flat w x h object at `pose` in the frame (pinhole camera)."""
    w, h = size
    fw, fh = frame
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0],
                        [-w / 2, h / 2, 0]], np.float64) * pose.scale
    a, b, c = (math.radians(v) for v in (pose.tilt_h, pose.tilt_v, pose.roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    p = corners @ (rz @ ry @ rx).T
    # the object's centre where 1 unit = 1 px; the perspective of a tilt depends only on the
    # apparent size and the focal length (a bigger print farther away looks the same)
    p[:, 2] += FOCAL_PX
    img = np.stack([FOCAL_PX * p[:, 0] / p[:, 2] + fw / 2 + pose.x,
                    FOCAL_PX * p[:, 1] / p[:, 2] + fh / 2 + pose.y], axis=1)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(src, img.astype(np.float32))


def paste(image: U8, m: NDArray[np.float64], out: U8) -> None:
    """Draws the flat `image` through homography `m` onto `out` (in place)."""
    h, w = out.shape[:2]
    warped = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT)
    ih, iw = image.shape[:2]
    corners = _project(m, np.array([[0.5, 0.5], [iw - 0.5, 0.5], [iw - 0.5, ih - 0.5],
                                    [0.5, ih - 0.5]]))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners * 16).astype(np.int32), 255, cv2.LINE_8, shift=4)
    cv2.copyTo(warped, mask, out)  # twice as fast as warping with a transparent border


def _project(m: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.hstack([pts, np.ones((len(pts), 1))]) @ m.T
    return q[:, :2] / q[:, 2:3]


@functools.lru_cache(maxsize=8)
def printed_photo(identity: str, index: int, face_px: int) -> U8:
    """A photo print: the portrait with a white border, ink that never reaches black or white,
    paper fibres, and the lamp's uneven light on it."""
    face = source_face(identity, index, face_px)
    cx, cy = face.centre
    w, h = round(face_px * 1.75), round(face_px * 2.2)
    x0, y0 = round(cx - w / 2), round(cy - h * 0.45)
    img = face.image
    pad = max(0, -x0, -y0, x0 + w - img.shape[1], y0 + h - img.shape[0])
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    picture = img[y0 + pad:y0 + pad + h, x0 + pad:x0 + pad + w].astype(np.float32)
    grey = picture.mean(axis=2, keepdims=True)
    picture = 0.85 * picture + 0.15 * grey  # print inks: a little less saturated
    picture = 26 + picture * (224 - 26) / 255
    border = round(face_px * 0.07)
    paper = np.full((h + 2 * border, w + 2 * border, 3), 238.0, np.float32)
    paper[border:border + h, border:border + w] = picture
    rng = np.random.default_rng(4242)
    fibres = cv2.GaussianBlur(rng.normal(0, 1, paper.shape[:2]).astype(np.float32), (0, 0), 1.5)
    ph, pw = paper.shape[:2]
    ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float32)
    lamp = 1.05 - 0.16 * (xs / pw) - 0.08 * ((ys / ph - 0.3) ** 2)  # light from the upper left
    paper = paper * (1 + 0.04 * fibres)[..., None] * lamp[..., None]
    return np.ascontiguousarray(np.clip(paper, 0, 255).astype(np.uint8))


def _sinusoids(rng: np.random.Generator, n: int) -> tuple[NDArray[np.float64], ...]:
    return (rng.uniform(0.08, 0.35, (n, 2)), rng.uniform(0, 2 * math.pi, (n, 2)))


# What a fraudster does with a print when asked: tilt it about the vertical axis for a turn
# (the way that moves the yaw measure as the turn would: perspective widens the nearer half
# of the face), about the horizontal axis for a nod, and something for the rest.
PLANAR_FAKE = {"turn-left": ("v", -30.0), "turn-right": ("v", 30.0), "nod": ("h", 28.0),
               "open-mouth": ("h", -22.0), "blink": ("h", 16.0)}


class PrintedPhoto:
    """A printed photo held in front of the camera: still (tremor <= 1 px) or moved and tilted
    (and, asked to turn or nod, tilted the way a fraudster would to fake it: planar)."""

    def __init__(self, identity: str, seed: int, size: tuple[int, int], background: U8, *,
                 moving: bool) -> None:
        rng = np.random.default_rng([seed, 303, int(moving)])
        factor = min(size[0] / 640, size[1] / 480)
        face_px = max(40, round(int(rng.choice([205, 220, 235])) * factor / 5) * 5)
        self._print = printed_photo(identity, 0, face_px)
        self._size = size
        self._background = background
        self._moving = moving
        self._base = Pose(x=float(rng.uniform(-40, 40)) * factor,
                          y=float(rng.uniform(-10, 25)) * factor, roll=float(rng.uniform(-4, 4)))
        self._factor = factor
        self._freq, self._phase = _sinusoids(rng, 6)
        self._asked: str | None = None
        self._react: tuple[str, float] | None = None
        self._react_delay = float(rng.uniform(0.3, 0.7))

    def pose(self, t: float, asked: str | None) -> Pose:
        b = self._base
        if not self._moving:
            # a hand's tremor: well under a pixel to a pixel
            tx = 0.6 * math.sin(2 * math.pi * 1.3 * t) + 0.3 * math.sin(2 * math.pi * 3.1 * t)
            ty = 0.5 * math.sin(2 * math.pi * 1.7 * t + 1.0)
            return Pose(b.x + tx, b.y + ty, b.roll)
        if asked != self._asked:
            self._asked = asked
            self._react = (asked, t + self._react_delay) if asked in CHALLENGES else None
        v = np.sin(2 * math.pi * self._freq * t + self._phase).sum(axis=1) / 2
        tilt_v, tilt_h = 18.0 * v[3], 14.0 * v[4]
        if self._react is not None:
            action, start = self._react
            a = smoothstep((t - start) / RAMP_UP_S / 2)
            if action == "blink":  # a flick of the print: the best a photo can do
                a -= smoothstep((t - start - 0.9) / RAMP_UP_S / 2)
            axis, target = PLANAR_FAKE[action]
            if axis == "v":
                tilt_v = tilt_v * (1 - a) + target * a
            else:
                tilt_h = tilt_h * (1 - a) + target * a
        f = self._factor
        return Pose(b.x + 50.0 * f * v[0], b.y + 25.0 * f * v[1], b.roll + 18.0 * v[2],
                    tilt_v, tilt_h, 1.0 + 0.08 * v[5])

    def render(self, t: float, asked: str | None) -> U8:
        pose = self.pose(t, asked)
        ph, pw = self._print.shape[:2]
        m = homography((pw, ph), pose, self._size)
        out = self._background.copy()
        paste(self._print, m, out)
        # the fingers holding the print's lower corners
        corners = _project(m, np.array([[pw * 0.06, ph * 0.97], [pw * 0.94, ph * 0.97]]))
        r = max(10, round(pw * 0.07))
        for x, y in corners:
            cv2.ellipse(out, (round(x), round(y)), (r, round(r * 1.5)), 0, 0, 360, SKIN, -1,
                        cv2.LINE_AA)
            cv2.ellipse(out, (round(x), round(y + r * 0.4)), (round(r * 0.8), r), 0, 0, 360,
                        (170.0, 125.0, 100.0), -1, cv2.LINE_AA)
        return out


def recorded_sequence(seed: int) -> tuple[str, ...]:
    """The challenges a recorded attempt performed (fixed per seed): what a replay shows."""
    rng = np.random.default_rng([seed, 404])
    order = [str(c) for c in rng.permutation(CHALLENGES)]
    return tuple(order[:3])


REPLAY_STARTS = (1.5, 3.7, 5.9)
REPLAY_LOOP_S = 8.5


class PhoneReplay:
    """A phone held up to the camera playing a recorded live attempt (ignores what is asked)."""

    SCREEN = (440, 330)  # px of the played video on the phone (4:3)

    def __init__(self, seed: int, size: tuple[int, int], background: U8) -> None:
        rng = np.random.default_rng([seed, 505])
        self.recorded = recorded_sequence(seed)
        sw, sh = self.SCREEN
        face = source_face("a", 2, int(rng.choice([180, 190, 200])))
        self._person = LivePerson(Head(face, (sw, sh), (sw / 2, sh * 0.47)),
                                  Performer(seed, obeys=False))
        performances = []
        for loop in range(40):
            for start, action in zip(REPLAY_STARTS, self.recorded, strict=True):
                hold = 0.45 if action == "blink" else 0.8
                performances.append(Performance(action, loop * REPLAY_LOOP_S + start, hold))
        self._person.performer.script(performances)
        self._size = size
        self._background = background
        bezel = 22
        self._bezel = bezel
        self._phone = np.full((sh + 2 * bezel, sw + 2 * bezel, 3), 18, np.uint8)
        cv2.rectangle(self._phone, (3, 3), (sw + 2 * bezel - 4, sh + 2 * bezel - 4),
                      (55, 55, 60), 2)
        ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
        # the screen's pixel grid (dark lines between pixel rows/columns: moire once resampled)
        col, row = xs.astype(np.int32) % 3 == 2, ys.astype(np.int32) % 3 == 2
        grid = 1.0 - 0.16 * col - 0.12 * row
        glare = 60.0 * np.exp(-(((xs - 0.7 * sw) + 0.6 * (ys - 0.2 * sh)) / (0.18 * sw)) ** 2)
        self._grid = np.ascontiguousarray(np.repeat((grid * 255)[..., None], 3, 2).astype(np.uint8))
        self._glare = np.ascontiguousarray(np.repeat(glare[..., None], 3, 2).astype(np.uint8))
        # a screen's washed-out contrast and cold tint, as one lookup table per channel
        x = np.arange(256, dtype=np.float32)[:, None]
        tint = np.array([0.93, 0.98, 1.06], np.float32)[None, :]
        self._lut = np.clip(38 + x * tint * 0.72, 0, 255).astype(np.uint8).reshape(1, 256, 3)
        self._base = Pose(x=float(rng.uniform(-25, 25)), y=float(rng.uniform(-10, 15)),
                          roll=float(rng.uniform(-5, 5)), tilt_v=float(rng.uniform(-10, 10)),
                          tilt_h=float(rng.uniform(-8, 8)),
                          scale=1.2 * min(size[0] / 640, size[1] / 480))
        self._freq, self._phase = _sinusoids(rng, 3)

    def render(self, t: float, asked: str | None) -> U8:
        del asked  # a recording does not listen
        shown, _ = self._person.render(t % (40 * REPLAY_LOOP_S), None)
        screen = cv2.LUT(shown, self._lut)
        screen = cv2.multiply(screen, self._grid, scale=1 / 255)
        screen = cv2.add(screen, self._glare)
        phone = self._phone.copy()
        b = self._bezel
        phone[b:-b, b:-b] = screen
        v = np.sin(2 * math.pi * self._freq * t + self._phase).sum(axis=1) / 2
        base = self._base
        pose = Pose(base.x + 6 * v[0], base.y + 4 * v[1], base.roll + 2 * v[2], base.tilt_v,
                    base.tilt_h, base.scale)
        ph, pw = phone.shape[:2]
        m = homography((pw, ph), pose, self._size)
        out = self._background.copy()
        paste(phone, m, out)
        for x, y in _project(m, np.array([[0.0, ph * 0.55], [pw, ph * 0.6]])):
            cv2.ellipse(out, (round(x), round(y)), (18, 34), 0, 0, 360, SKIN, -1, cv2.LINE_AA)
        return out
