"""Face detection, encoding and comparison: typed interface (dlib/face_recognition behind it).

A template is the 128-d encoding dlib's ResNet model computes; two faces of one person are
usually within Euclidean distance 0.6. Templates are biometric data: they mask their repr
and are never logged. The kiosk compares a live template with the enrolled one from the edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from drivers.base import Device
from drivers.camera.interface import Frame

KIND = "face"  # Device.kind: the key in the kiosk's status document
TEMPLATE_SIZE = 128
DEFAULT_TOLERANCE = 0.6  # dlib's recommended threshold for its ResNet face model
# dlib's encodings stay well inside +-1; a value outside this is not a template (a template
# from the edge is input like any other).
MAX_TEMPLATE_VALUE = 4.0


class FaceHealthCode(StrEnum):
    OK = "ok"
    MODELS_MISSING = "models-missing"  # missing: model files absent (permanent until installed)
    ENGINE_ERROR = "engine-error"  # missing: dlib failed to load or crashed
    SLOW = "slow"  # degraded: encodings take far longer than measured (overloaded CPU)


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixel coordinates of its frame (dlib's css order)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def area(self) -> int:
        return max(self.bottom - self.top, 0) * max(self.right - self.left, 0)


@dataclass(frozen=True, repr=False)
class FaceTemplate:
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) != TEMPLATE_SIZE:
            raise ValueError(f"a face template has {TEMPLATE_SIZE} values")
        if not all(math.isfinite(v) and abs(v) <= MAX_TEMPLATE_VALUE for v in self.values):
            raise ValueError(f"a face template's values are finite and within "
                             f"+-{MAX_TEMPLATE_VALUE:g}")

    def __repr__(self) -> str:
        return "FaceTemplate(<128 values>)"


@dataclass(frozen=True)
class FaceMatch:
    distance: float  # Euclidean distance between the templates
    tolerance: float

    @property
    def same_person(self) -> bool:
        return self.distance <= self.tolerance


class FaceEngineUnavailable(Exception):
    """The engine cannot work now (models missing, dlib failed to load, or absent)."""


class NoFaceFound(Exception):
    """encode() found no face (or more than one when exactly one was required)."""


@runtime_checkable
class FaceEngine(Device, Protocol):
    """CPU-bound and synchronous: call it off the UI thread."""

    kind: str  # KIND

    def detect(self, frame: Frame) -> list[FaceBox]:
        """Faces in the frame, largest first."""
        ...

    def encode(self, frame: Frame, box: FaceBox | None = None) -> FaceTemplate:
        """The template of the face in `box`, or of the only face; raises NoFaceFound."""
        ...

    def compare(
        self, known: FaceTemplate, candidates: Sequence[FaceTemplate],
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> list[FaceMatch]:
        """One FaceMatch per candidate, in order."""
        ...
