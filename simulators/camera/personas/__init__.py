"""Scripted personas for the simulated camera, synthesised from the shipped face photos.

`make_persona(name, identity=..., seed=...)` gives an object whose `frame(t, asked)` is the
640 x 480 RGB picture the camera sees t seconds into the scene while the kiosk asks `asked`.
Live-like personas (live, impostor, swap, dark) perform the asked challenge after a human
reaction delay; the photo and replay attacks cannot. See docs/simulators/camera.md.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from simulators.camera.personas.faces import source_face
from simulators.camera.personas.live import CHALLENGES, Head, LivePerson, Performer
from simulators.camera.personas.scenes import Sensor, room
from simulators.camera.personas.spoofs import PhoneReplay, PrintedPhoto, recorded_sequence

PERSONAS: tuple[str, ...] = ("live", "photo-still", "photo-moved", "replay", "impostor", "empty",
                             "two-people", "dark", "swap")
ATTACKS: tuple[str, ...] = ("photo-still", "photo-moved", "replay", "impostor", "swap")
IDENTITIES = ("a", "b")
# Which photo of each identity is the live person: A's #1 is what central enrols, and A's #2
# is turned 30 degrees and mid-speech (mouth open), so A lives from #3.
LIVE_PHOTO = {"a": 2, "b": 0}
FACE_SIZES = (200, 215, 230)  # px: the face box in the frame (a few sizes keep the caches small)
SWAP_AT_S = (2.7, 3.3)

__all__ = ["ATTACKS", "CHALLENGES", "PERSONAS", "Persona", "make_persona", "recorded_sequence"]


class Persona(Protocol):
    name: str
    identity: str
    seed: int
    width: int
    height: int

    def frame(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        """The RGB frame t seconds into the scene while `asked` is being asked."""
        ...


@functools.lru_cache(maxsize=24)
def _head(identity: str, face_px: int, size: tuple[int, int], centre: tuple[int, int]) -> Head:
    # Heads are immutable once built (~0.1 s and ~7 MB each): share them between personas.
    return Head(source_face(identity, LIVE_PHOTO[identity], face_px), size, centre)


def scaled(px: float, size: tuple[int, int]) -> int:
    """A size meant for 640 x 480, for another frame size (multiples of 5 keep caches small)."""
    factor = min(size[0] / 640, size[1] / 480)
    return max(40, round(px * factor / 5) * 5)


def _live(identity: str, seed: int, size: tuple[int, int], *, obeys: bool = True,
          ) -> LivePerson:
    rng = np.random.default_rng([seed, 1, ord(identity)])
    w, h = size
    face_px = scaled(int(rng.choice(FACE_SIZES)), size)
    centre = (w // 2 + int(rng.choice([-24, 0, 24])), round(h * 0.45) + int(rng.choice([-8, 8])))
    return LivePerson(_head(identity, face_px, size, centre),
                      Performer(seed * 2 + ord(identity), obeys=obeys))


class _Base:
    def __init__(self, name: str, identity: str, seed: int, width: int, height: int) -> None:
        self.name, self.identity, self.seed = name, identity, seed
        self.width, self.height = width, height
        self.sensor = Sensor(seed, width, height)

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        raise NotImplementedError

    def frame(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        return np.ascontiguousarray(self.sensor.apply(self._draw(t, asked), t))

    def __repr__(self) -> str:
        return f"Persona({self.name!r}, identity={self.identity!r}, seed={self.seed})"


class _Live(_Base):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.person = _live(self.identity, self.seed, (self.width, self.height))

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        return self.person.render(t, asked)[0]


class _Dark(_Live):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)
        # a room with the light off: about a tenth of the light, and the sensor's noise shows
        self.sensor = Sensor(self.seed, self.width, self.height, gain=0.1, offset=3.0,
                             noise_scale=2)


class _Swap(_Base):
    """A obeys, then B steps into A's place and goes on obeying: mid-sequence, a short moment
    after the second challenge is asked (or at about 3 s, whichever comes first)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        other = "b" if self.identity == "a" else "a"
        self.first = _live(self.identity, self.seed, (self.width, self.height))
        self.second = _live(other, self.seed, (self.width, self.height))
        rng = np.random.default_rng([self.seed, 606])
        self.swap_at = float(rng.uniform(*SWAP_AT_S))
        self._after_ask = float(rng.uniform(0.05, 0.35))
        self._asks: list[str] = []

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        if asked is not None and (not self._asks or self._asks[-1] != asked):
            self._asks.append(asked)
            if len(self._asks) == 2:
                self.swap_at = min(self.swap_at, t + self._after_ask)
        # both listen all along, so the one who steps in is already following the kiosk
        a = self.first.render(t, asked) if t < self.swap_at else None
        self.second.performer.amplitudes(t, asked)
        if a is not None:
            return a[0]
        return self.second.render(t, asked)[0]


class _TwoPeople(_Base):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        half = (self.width // 2, self.height)
        rng = np.random.default_rng([self.seed, 707])
        people = []
        for k, identity in enumerate(("a", "b")):
            centre = (half[0] // 2 + int(rng.choice([-10, 0, 10])), round(self.height * 0.45))
            head = _head(identity, scaled(165, (self.width, self.height)), half, centre)
            performer = Performer(self.seed * 3 + k, obeys=False)
            people.append((head, performer))
        self.people = people

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        halves = [head.render({}, performer.sway(t))[0] for head, performer in self.people]
        return np.ascontiguousarray(np.hstack(halves))


class _Empty(_Base):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.background = room(self.seed % 16, self.width, self.height)

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        return self.background.copy()


class _Photo(_Empty):
    moving = False

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)
        self.photo = PrintedPhoto(self.identity, self.seed, (self.width, self.height),
                                  self.background, moving=self.moving)

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        return self.photo.render(t, asked)


class _PhotoStill(_Photo):
    moving = False


class _PhotoMoved(_Photo):
    moving = True


class _Replay(_Empty):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)
        self.replay = PhoneReplay(self.seed, (self.width, self.height), self.background)
        self.recorded = self.replay.recorded

    def _draw(self, t: float, asked: str | None) -> NDArray[np.uint8]:
        return self.replay.render(t, asked)


def make_persona(name: str, *, identity: str = "a", seed: int = 0, width: int = 640,
                 height: int = 480) -> Persona:
    """A persona by name (PERSONAS); deterministic for (name, identity, seed)."""
    if name not in PERSONAS:
        raise ValueError(f"unknown persona {name!r} (one of {', '.join(PERSONAS)})")
    if identity not in IDENTITIES:
        raise ValueError(f"unknown identity {identity!r} (a or b)")
    if not (160 <= width <= 1920 and 120 <= height <= 1080):  # a face needs room to move
        raise ValueError("frame size out of range")
    if name == "impostor":  # someone else than `identity`, alive and obeying
        identity = "b" if identity == "a" else "a"
    kinds: dict[str, type[_Base]] = {
        "live": _Live, "impostor": _Live, "dark": _Dark, "swap": _Swap, "two-people": _TwoPeople,
        "empty": _Empty, "replay": _Replay, "photo-still": _PhotoStill, "photo-moved": _PhotoMoved}
    return kinds[name](name, identity, int(seed), int(width), int(height))
