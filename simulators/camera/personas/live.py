"""A live person synthesised from one photo: reacts to the asked challenge, moves a little.

`Performer` is the person's behaviour (when an asked challenge starts, how long it is held,
natural head sway); `Head` is the picture (the photo placed in a frame, its warp fields, and
the paint a warp cannot do: a dark open mouth, closed eyelids). `LivePerson` joins them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from simulators.camera.personas.faces import SourceFace
from simulators.camera.personas.warp import Field, Rig, Warper, field_for, make_rig, rotated

CHALLENGES = ("turn-left", "turn-right", "nod", "open-mouth", "blink")

# Magnitudes agreed with the liveness engine (tmp api notes; docs/simulators/camera.md).
TURN_DEG = 21.0
NOD_DEG = 17.0
REACTION_S = (0.3, 0.8)
HOLD_S = (0.6, 1.0)
BLINK_HOLD_S = (0.35, 0.6)
RAMP_UP_S = 0.25
RAMP_DOWN_S = 0.3
REPEAT_AFTER_S = 2.5
TEETH = False  # still being asked the same thing: try again


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Performance:
    action: str
    start: float  # when the person starts moving
    hold: float

    @property
    def end(self) -> float:
        return self.start + RAMP_UP_S + self.hold + RAMP_DOWN_S

    def amplitude(self, t: float) -> float:
        s = t - self.start
        if s <= 0 or t >= self.end:
            return 0.0
        if s < RAMP_UP_S:
            return smoothstep(s / RAMP_UP_S)
        if s < RAMP_UP_S + self.hold:
            return 1.0
        return 1.0 - smoothstep((s - RAMP_UP_S - self.hold) / RAMP_DOWN_S)


class Performer:
    """Turns the asked challenge into action amplitudes over time; deterministic per seed."""

    def __init__(self, seed: int, *, obeys: bool = True) -> None:
        self._seed = seed
        self._obeys = obeys
        self._asked: str | None = None
        self._current: Performance | None = None
        self._count = 0
        self._script: list[Performance] = []
        rng = np.random.default_rng([seed, 7])
        # natural sway: two slow sinusoids per degree of freedom
        self._freq = rng.uniform(0.15, 0.6, size=(5, 2))
        self._phase = rng.uniform(0, 2 * math.pi, size=(5, 2))

    def _schedule(self, action: str, t: float) -> None:
        rng = np.random.default_rng([self._seed, 11, self._count])
        self._count += 1
        hold = BLINK_HOLD_S if action == "blink" else HOLD_S
        self._current = Performance(action, t + float(rng.uniform(*REACTION_S)),
                                    float(rng.uniform(*hold)))

    def script(self, performances: list[Performance]) -> None:
        """A fixed performance list (a recording): ignores asks from now on."""
        self._obeys = False
        self._script = performances

    def amplitudes(self, t: float, asked: str | None) -> dict[str, float]:
        if not self._obeys:
            return {p.action: p.amplitude(t) for p in self._script if p.amplitude(t) > 0}
        if asked != self._asked:
            self._asked = asked
            if asked in CHALLENGES:
                self._schedule(asked, t)
        elif (asked in CHALLENGES and self._current is not None
              and t > self._current.end + REPEAT_AFTER_S):
            self._schedule(asked, t)
        if self._current is None:
            return {}
        a = self._current.amplitude(t)
        return {self._current.action: a} if a > 0 else {}

    def sway(self, t: float) -> tuple[float, float, float, float, float]:
        """dx px, dy px, roll deg, yaw fraction, pitch fraction of natural motion at t."""
        v = np.sin(2 * math.pi * self._freq * t + self._phase).sum(axis=1) / 2
        return (3.0 * v[0], 2.0 * v[1], 1.2 * v[2], 0.06 * v[3], 0.06 * v[4])


class Head:
    """One photo placed in a frame, with its precomputed warp fields."""

    def __init__(self, face: SourceFace, size: tuple[int, int], centre: tuple[float, float],
                 ) -> None:
        width, height = size
        cx, cy = face.centre
        ox, oy = round(cx - centre[0]), round(cy - centre[1])
        self.base = _crop(face.image, ox, oy, width, height)
        marks = face.landmarks - np.array([ox, oy], np.float32)
        self.rig: Rig = make_rig(marks, size)
        self._warper = Warper(self.rig)
        self.skin = face.skin_colour()
        rig = self.rig
        # Photos are rarely frontal: turn the neutral head part of the way to the camera, so
        # both turns stay within what a kiosk asks for (about 20 degrees each way).
        self.correction = _frontal_correction(marks)
        c = self.correction
        self.neutral = field_for(rig, rotated(rig, yaw_deg=c))
        self.fields: dict[str, Field] = {
            "turn-left": field_for(rig, rotated(rig, yaw_deg=c + TURN_DEG)),
            "turn-right": field_for(rig, rotated(rig, yaw_deg=c - TURN_DEG)),
            "nod": field_for(rig, rotated(rig, yaw_deg=c, pitch_deg=NOD_DEG)),
            "open-mouth": field_for(rig, _mouth_open(rig, rotated(rig, yaw_deg=c))),
            "blink": field_for(rig, _eyes_closed(rig, rotated(rig, yaw_deg=c))),
        }
        moving = rig.moving[:, None]
        self._dx = field_for(rig, rig.points + moving * np.float32([4, 0]))
        self._dy = field_for(rig, rig.points + moving * np.float32([0, 4]))
        self._roll = field_for(rig, _rolled(rig, 2.0))

    def render(self, amplitudes: dict[str, float],
               sway: tuple[float, float, float, float, float] = (0, 0, 0, 0, 0),
               ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """The frame (before sensor effects) and where the 68 landmarks are drawn in it."""
        dx, dy, roll, yaw, pitch = sway
        # Fields are whole poses: blend them (weights summing to one), then add the sway.
        weighted = [(a, self.fields[k]) for k, a in amplitudes.items()]
        rest = 1.0 - sum(amplitudes.values())
        turn = "turn-left" if yaw >= 0 else "turn-right"
        weighted += [(rest - abs(yaw) - abs(pitch), self.neutral), (abs(yaw), self.fields[turn]),
                     (abs(pitch), self.fields["nod"])]
        weighted += [(dx / 4, self._dx), (dy / 4, self._dy), (roll / 2, self._roll)]
        out = self.base.copy()
        marks = self._warper.apply(self.base, weighted, out)
        mouth = amplitudes.get("open-mouth", 0.0)
        if mouth > 0.05:
            _paint_mouth(out, marks, mouth)
        blink = amplitudes.get("blink", 0.0)
        if blink > 0.3:
            _paint_eyelids(out, marks, self.skin, blink)
        return out, marks


def _crop(image: NDArray[np.uint8], ox: int, oy: int, width: int, height: int,
          ) -> NDArray[np.uint8]:
    h, w = image.shape[:2]
    pad_l, pad_t = max(0, -ox), max(0, -oy)
    pad_r, pad_b = max(0, ox + width - w), max(0, oy + height - h)
    if pad_l or pad_t or pad_r or pad_b:
        image = cv2.copyMakeBorder(image, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
        ox, oy = ox + pad_l, oy + pad_t
    return np.ascontiguousarray(image[oy:oy + height, ox:ox + width])


def _rolled(rig: Rig, degrees: float) -> NDArray[np.float32]:
    c = rig.landmarks.mean(axis=0)
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    out = (rig.points - c) @ rot.T + c
    out[~rig.moving] = rig.points[~rig.moving]
    return out.astype(np.float32)


def _frontal_correction(marks: NDArray[np.float32]) -> float:
    """Degrees of yaw that take the photo's head about 60 % of the way to frontal."""
    yaw = float((marks[30, 0] - marks[0, 0]) / (marks[16, 0] - marks[0, 0]) - 0.5)
    return float(np.clip(-yaw * (TURN_DEG / 0.15) * 0.6, -14.0, 14.0))


def _mouth_open(rig: Rig, start: NDArray[np.float32]) -> NDArray[np.float32]:
    p = start.copy()
    m = rig.landmarks
    # "down" is the face's own down (a tilted head opens its mouth along its tilt)
    eye_line = m[45] - m[36]
    down = np.array([-eye_line[1], eye_line[0]], np.float32) / float(np.linalg.norm(eye_line))
    # drop the lower lip so that the inner gap becomes about 0.9 of the inner mouth width
    inner_w = float(np.linalg.norm(m[64] - m[60]))
    gap = float(np.dot(m[66] - m[62], down))
    unit = max(0.9 * inner_w - gap, 0.0)
    drop = {65: 0.95, 66: 1.0, 67: 0.95, 55: 0.62, 56: 0.95, 57: 1.0, 58: 0.95, 59: 0.62,
            48: 0.22, 54: 0.22, 60: 0.28, 64: 0.28,
            8: 0.95, 7: 0.88, 9: 0.88, 6: 0.68, 10: 0.68, 5: 0.40, 11: 0.40, 4: 0.16, 12: 0.16,
            3: 0.05, 13: 0.05}
    for i, d in drop.items():
        p[i] += d * unit * down
    across = eye_line / float(np.linalg.norm(eye_line))
    for left, right in ((48, 54), (60, 64)):  # an open mouth gets a little narrower
        p[left] += 0.05 * unit * across
        p[right] -= 0.05 * unit * across
    return p


def _eyes_closed(rig: Rig, start: NDArray[np.float32]) -> NDArray[np.float32]:
    p = start.copy()
    m = start
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        gap = m[lower] - m[upper]
        p[upper] = m[upper] + 0.9 * gap
        p[lower] = m[lower] - 0.06 * gap
    for brow in range(17, 27):  # the brows follow the lids a little
        eye = 38 if brow < 22 else 43
        lower = 40 if eye == 38 else 47
        p[brow, 1] += 0.12 * float(m[lower, 1] - m[eye, 1])
    return p


def _paint_mouth(out: NDArray[np.uint8], marks: NDArray[np.float32], amount: float) -> None:
    inner = np.round(marks[60:68] * 16).astype(np.int32)
    dark = np.array([38, 14, 16]) + (1 - amount) * np.array([60, 30, 30])
    cv2.fillPoly(out, [inner], tuple(float(v) for v in dark), cv2.LINE_AA, shift=4)


def _paint_eyelids(out: NDArray[np.uint8], marks: NDArray[np.float32],
                   skin: NDArray[np.float32], amount: float) -> None:
    lid = tuple(float(v) for v in skin * 0.82)
    lash = (40.0, 28.0, 24.0)
    for eye in (slice(36, 42), slice(42, 48)):
        pts = marks[eye]
        centre = pts.mean(axis=0)
        grown = (pts - centre) * np.float32([1.1, 2.2]) + centre  # cover the lid edges too
        cv2.fillPoly(out, [np.round(grown * 16).astype(np.int32)], lid, cv2.LINE_AA, shift=4)
        lower = pts[[0, 5, 4, 3]]  # corner, lower lid, corner: the closed lid's lash line
        thickness = max(1, round(float(np.linalg.norm(pts[3] - pts[0])) / 14))
        cv2.polylines(out, [np.round(lower * 16).astype(np.int32)], False, lash, thickness,
                      cv2.LINE_AA, shift=4)


class LivePerson:
    """A live person in a frame: `render(t, asked)` -> (pixels before sensor effects, landmarks)."""

    def __init__(self, head: Head, performer: Performer) -> None:
        self.head = head  # shareable: rendering never changes it
        self.performer = performer  # this person's own state

    def render(self, t: float, asked: str | None,
               ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        return self.head.render(self.performer.amplitudes(t, asked), self.performer.sway(t))
