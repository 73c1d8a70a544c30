"""The landmark model the liveness check runs on: a protocol, so that the model is pluggable.

The default is dlib's 68-point shape predictor (DlibFaceEngine). Its trained model file is
licensed for non-commercial use only (it was trained on the iBUG 300-W data set; see
docs/face.md): a deployment that needs a commercially licensed model plugs in another
implementation of `LandmarkModel` that returns the same 68-point layout.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from drivers.camera.interface import Frame
from drivers.face.interface import FaceBox

# 68 x 2 float64 array of (x, y) in the frame's pixels, in dlib's (iBUG 300-W) point order.
Landmarks: TypeAlias = NDArray[np.float64]
POINTS = 68


@runtime_checkable
class LandmarkModel(Protocol):
    """Finds faces fast and places 68 points on one; CPU-bound and synchronous."""

    def detect_fast(self, frame: Frame) -> list[FaceBox]:
        """Faces in the frame (full-frame pixels), largest first; may work on a downscale."""
        ...

    def landmarks(self, frame: Frame, box: FaceBox) -> Landmarks:
        """The 68 points of the face in `box`."""
        ...

    def versions(self) -> dict[str, str]:
        """Names and versions of the models, recorded in the evidence."""
        ...
