"""Synthetic 68-point faces for the liveness tests: a real face's landmarks (obama.jpg, measured
once with dlib) given depth, posed in 3D and projected, so that a head turn is non-planar
(the nose leaves the plane of the eyes) and a printed photo is planar (no depth).

`FakeFaceModel` plays a LandmarkModel and a face encoder over a script: each frame's sequence
number indexes what the fake "sees" (faces, the landmarks of the first, whose template).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drivers.camera.interface import Frame
from drivers.face.interface import TEMPLATE_SIZE, FaceBox, FaceTemplate

# dlib's 68 points on obama.jpg cropped to a 206-px face in 640x480 (x, y).
FRONTAL = np.array([
    [224, 196], [227, 222], [231, 249], [236, 274], [244, 299], [259, 322], [277, 341],
    [298, 356], [323, 360], [349, 353], [371, 336], [390, 316], [404, 293], [412, 269],
    [416, 243], [419, 218], [420, 194], [245, 184], [256, 169], [273, 163], [292, 163],
    [311, 167], [339, 167], [356, 161], [375, 161], [392, 168], [402, 182], [325, 184],
    [325, 201], [325, 217], [325, 235], [300, 245], [312, 248], [324, 251], [337, 247],
    [349, 244], [266, 191], [277, 184], [288, 184], [299, 190], [288, 191], [277, 192],
    [351, 189], [361, 183], [373, 183], [383, 189], [373, 190], [361, 190], [274, 275],
    [290, 268], [310, 266], [325, 268], [338, 265], [357, 266], [373, 272], [358, 292],
    [339, 303], [325, 305], [309, 304], [290, 295], [279, 276], [310, 272], [325, 274],
    [339, 272], [368, 274], [339, 290], [325, 293], [309, 291]], dtype=np.float64)

CENTRE = np.array([(FRONTAL[0, 0] + FRONTAL[16, 0]) / 2, FRONTAL[27:36, 1].mean()])
RADIUS = (FRONTAL[16, 0] - FRONTAL[0, 0]) / 2


def _depth() -> NDArray[np.float64]:
    """An ellipsoid-like face (sides back, centre forward) with a protruding nose."""
    x = (FRONTAL[:, 0] - CENTRE[0]) / RADIUS
    z = 0.6 * RADIUS * np.sqrt(np.clip(1 - x ** 2, 0, 1))
    nose = np.zeros(68)
    nose[27:31] = np.linspace(0.05, 0.25, 4)
    nose[31:36] = [0.12, 0.16, 0.18, 0.16, 0.12]
    return z + nose * RADIUS


DEPTH = _depth()


def pose(*, yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0,
         dx: float = 0.0, dy: float = 0.0, mouth: float = 0.0, eyes_closed: float = 0.0,
         flat: bool = False, scale: float = 1.0) -> NDArray[np.float64]:
    """The 68 points of the face posed in 3D (orthographic plus mild perspective).

    yaw > 0 turns the person to their own left (the nose moves to the image's right);
    `mouth` opens the jaw by that share of the mouth width; `eyes_closed` 0..1 shuts the
    eyelids; `flat` gives every point the same depth: a printed photo.
    """
    p = FRONTAL.copy()
    # Expressions first, on the frontal face.
    width = p[64, 0] - p[60, 0]
    lower = [*range(55, 60), 65, 66, 67, *range(6, 11)]
    p[lower, 1] += mouth * width
    for eye in (range(36, 42), range(42, 48)):
        idx = list(eye)
        mid = p[idx, 1].mean()
        p[idx, 1] = mid + (p[idx, 1] - mid) * (1 - 0.9 * eyes_closed)
    xyz = np.column_stack([p - CENTRE, np.zeros(68) if flat else DEPTH])
    a, b, c = np.radians([yaw_deg, pitch_deg, roll_deg])
    # Camera looks along -z; x right, y down. Turning to their left moves the nose to +x.
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    posed = xyz @ (rz @ rx @ ry).T
    focal = 1500.0  # mild perspective (a face ~50 cm from a webcam)
    factor = focal / (focal - posed[:, 2])
    return posed[:, :2] * factor[:, None] * scale + CENTRE + [dx, dy]


def template_of(person: str) -> FaceTemplate:
    """A distinct fixed template per person name."""
    rng = np.random.default_rng(sum(map(ord, person)))
    values = rng.normal(0, 0.09, TEMPLATE_SIZE)
    return FaceTemplate(tuple(float(v) for v in values))


def box_of(points: NDArray[np.float64]) -> FaceBox:
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    return FaceBox(top=int(top - 20), right=int(right), bottom=int(bottom), left=int(left))


@dataclass(frozen=True)
class Seen:
    """What the fake sees in one frame."""

    faces: tuple[NDArray[np.float64], ...]  # landmarks of each face, main one first
    person: str = "a"  # whose face is the main one (its template)


Script = Callable[[float, str | None], Seen]


class FakeFaceModel:
    """LandmarkModel + encoder over scripted frames: frame.sequence -> Seen."""

    def __init__(self) -> None:
        self.seen: dict[int, Seen] = {}
        self.encodes = 0

    def detect_fast(self, frame: Frame) -> list[FaceBox]:
        return [box_of(f) for f in self.seen[frame.sequence].faces]

    def landmarks(self, frame: Frame, box: FaceBox) -> NDArray[np.float64]:
        faces = self.seen[frame.sequence].faces
        if not faces:  # the shape predictor always answers: points where the box is
            return np.tile([(box.left + box.right) / 2, (box.top + box.bottom) / 2], (68, 1))
        return faces[0].copy()

    def encode(self, frame: Frame, box: FaceBox | None = None) -> FaceTemplate:
        self.encodes += 1
        return template_of(self.person_at(frame))

    def person_at(self, frame: Frame) -> str:
        # encode() gets a copy of a chosen frame: its pixels carry the sequence (see `frame`).
        return self.seen[int(frame.pixels[0, 0, 0]) + 256 * int(frame.pixels[0, 0, 1])].person

    def versions(self) -> dict[str, str]:
        return {"landmarks": "synthetic"}


_TEXTURE = np.random.default_rng(7).integers(60, 200, (240, 320, 3), dtype=np.uint8)


def frame(sequence: int, at: float, *, light: int = 0) -> Frame:
    """A bright, sharp frame whose first pixel encodes its sequence number."""
    pixels = np.ascontiguousarray(np.repeat(np.repeat(_TEXTURE, 2, axis=0), 2, axis=1))
    if light:
        pixels = (pixels // light).astype(np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = sequence % 256, sequence // 256
    return Frame(pixels, sequence, at)


ACTION_POSE: dict[str, dict[str, float]] = {
    "turn-left": {"yaw_deg": 20.0}, "turn-right": {"yaw_deg": -20.0}, "nod": {"pitch_deg": 15.0},
    "open-mouth": {"mouth": 0.5}, "blink": {"eyes_closed": 1.0},
}


def performing(action: str | None, share: float, **extra: float) -> dict[str, float]:
    """pose() keywords for `action` performed to `share` (0..1), plus `extra`."""
    kwargs = dict(extra)
    if action is not None:
        for key, value in ACTION_POSE[action].items():
            kwargs[key] = kwargs.get(key, 0.0) + value * share
    return kwargs


def envelope(since: float, *, delay: float = 0.4, ramp: float = 0.2, hold: float = 0.7) -> float:
    """How far into its action a person is `since` seconds after being asked."""
    t = since - delay
    if t < 0:
        return 0.0
    if t < ramp:
        return t / ramp
    if t < ramp + hold:
        return 1.0
    return max(0.0, 1 - (t - ramp - hold) / ramp)


class Person:
    """A live person (3D face) who performs what is asked, with small natural motion and
    landmark jitter; `obeys=False` only wobbles; `swap_at` swaps in another person's face at
    the same place, `jump_at` moves the face far in one frame."""

    def __init__(self, person: str = "a", *, obeys: bool = True, jitter: float = 0.4,
                 swap_at: float | None = None, swap_to: str = "b", jump_at: float | None = None,
                 wobble_deg: float = 1.0, seed: int = 1) -> None:
        self.person, self.obeys, self.jitter = person, obeys, jitter
        self.swap_at, self.swap_to, self.jump_at = swap_at, swap_to, jump_at
        self.wobble = wobble_deg
        self.rng = np.random.default_rng(seed)
        self.asked: str | None = None
        self.asked_at = 0.0

    def points(self, t: float, asked: str | None) -> NDArray[np.float64]:
        if asked != self.asked:
            self.asked, self.asked_at = asked, t
        share = envelope(t - self.asked_at) if self.obeys else 0.0
        kwargs = performing(self.asked if self.obeys else None, share,
                            yaw_deg=self.wobble * np.sin(t * 1.3), dx=2 * np.sin(t * 0.7),
                            dy=1.5 * np.sin(t * 0.9))
        if self.jump_at is not None and t >= self.jump_at:
            kwargs["dx"] = kwargs.get("dx", 0.0) + 160
        return pose(**kwargs) + self.rng.normal(0, self.jitter, (68, 2))

    def __call__(self, t: float, asked: str | None) -> Seen:
        who = self.swap_to if self.swap_at is not None and t >= self.swap_at else self.person
        return Seen(faces=(self.points(t, asked),), person=who)


class Replay(Person):
    """A recorded live attempt on a phone: a real face performing its own sequence at fixed
    times, whatever is asked."""

    def __init__(self, recorded: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.recorded = recorded

    def points(self, t: float, asked: str | None) -> NDArray[np.float64]:
        slot = int(t // 2.2)
        action = self.recorded[slot % len(self.recorded)] if t >= 1.0 else None
        share = envelope(t - slot * 2.2, delay=0.3) if action else 0.0
        return pose(**performing(action, share)) + self.rng.normal(0, self.jitter, (68, 2))


class Photo:
    """A printed photo (flat): still, or tilted about its axes when a turn or nod is asked."""

    def __init__(self, person: str = "a", *, moved: bool = False, tilt_deg: float = 0.0,
                 jitter: float = 0.3, seed: int = 2) -> None:
        self.person, self.moved, self.jitter, self.tilt = person, moved, jitter, tilt_deg
        self.rng = np.random.default_rng(seed)

    def __call__(self, t: float, asked: str | None) -> Seen:
        kwargs: dict[str, float] = {"flat": True}
        if self.tilt:  # swaying gently about its vertical axis, whatever is asked
            kwargs["yaw_deg"] = self.tilt * np.sin(t * 1.7)
        if self.moved:
            kwargs.update(dx=15 * np.sin(t), roll_deg=8 * np.sin(t * 0.5))
            if asked in ("turn-left", "turn-right"):
                side = 1 if asked == "turn-left" else -1
                kwargs["yaw_deg"] = 30 * np.sin(min(t, 10) * 2) * side
            elif asked == "nod":
                kwargs["pitch_deg"] = 30 * np.sin(min(t, 10) * 2)
        points = pose(**kwargs) + self.rng.normal(0, self.jitter, (68, 2))
        return Seen(faces=(points,), person=self.person)


def run(check: object, model: FakeFaceModel, script: Script, *, fps: float = 15.0,
        seconds: float = 40.0, light: int = 0) -> object:
    """Feed `check` (a LivenessCheck) scripted frames until it is done; its result."""
    t, sequence = 0.0, 0
    while not check.done and t <= seconds:  # type: ignore[attr-defined]
        asked = check.progress.current  # type: ignore[attr-defined]
        model.seen[sequence] = script(t, asked)
        check.feed(frame(sequence, t, light=light))  # type: ignore[attr-defined]
        sequence += 1
        t = sequence / fps
    return check.result()  # type: ignore[attr-defined]
