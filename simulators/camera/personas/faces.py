"""The shipped photos as warpable faces: each photo's 68 dlib landmarks, found once per process.

Landmarks are detected once per photo (a few hundred ms of HOG on a downscaled copy plus the
68-point model) and cached; scaling a face to another size rescales the cached landmarks
instead of detecting again, so making many personas costs nothing after the first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from simulators.camera.photos import photos

# The working size the landmarks are detected at: a face about this wide (HOG box, pixels).
DETECT_FACE_PX = 260
THUMBNAIL_PX = 480  # find the face on a thumbnail first: full-size HOG on 2333 px takes seconds


class FaceNotFound(RuntimeError):
    """A shipped photo in which dlib finds no face (a wrong or corrupted file)."""


@dataclass(frozen=True, eq=False)
class SourceFace:
    """A photo scaled so its face box is `face_px` wide, with the landmarks at that scale."""

    image: NDArray[np.uint8]  # RGB, C-contiguous
    landmarks: NDArray[np.float32]  # 68 x 2, (x, y) pixels in `image`
    box: tuple[int, int, int, int]  # dlib css order: top, right, bottom, left

    @property
    def face_width(self) -> float:
        return float(self.box[1] - self.box[3])

    @property
    def centre(self) -> tuple[float, float]:
        """The middle of the landmarks (between the eyes and the mouth)."""
        c = self.landmarks.mean(axis=0)
        return float(c[0]), float(c[1])

    def skin_colour(self) -> NDArray[np.float32]:
        """The median colour of the cheeks under the eyes (for painting eyelids)."""
        return _skin_colour(self)


@functools.cache
def _detected(identity: str, index: int) -> SourceFace:
    import face_recognition

    path = photos(identity)[index].path
    with Image.open(path) as opened:
        original = np.asarray(opened.convert("RGB"))
    h, w = original.shape[:2]
    thumb_scale = THUMBNAIL_PX / max(h, w)
    thumb = cv2.resize(original, (round(w * thumb_scale), round(h * thumb_scale)),
                       interpolation=cv2.INTER_AREA)
    boxes = face_recognition.face_locations(thumb, number_of_times_to_upsample=1)
    if not boxes:
        raise FaceNotFound(f"no face in {path.name}")
    top, right, bottom, left = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]))
    scale = thumb_scale * DETECT_FACE_PX / (right - left)
    image = cv2.resize(original, (round(w * scale), round(h * scale)),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    image = np.ascontiguousarray(image)
    box = tuple(round(v * scale / thumb_scale) for v in (top, right, bottom, left))
    marks = face_recognition.face_landmarks(image, [box], model="large")
    if not marks:
        raise FaceNotFound(f"no landmarks in {path.name}")
    order = ("chin", "left_eyebrow", "right_eyebrow", "nose_bridge", "nose_tip", "left_eye",
             "right_eye", "top_lip", "bottom_lip")
    points = _dlib_order({k: marks[0][k] for k in order})
    return SourceFace(image, points, box)  # type: ignore[arg-type]


def _dlib_order(parts: dict[str, list[tuple[int, int]]]) -> NDArray[np.float32]:
    """face_recognition's named parts back to dlib's 68-point order."""
    top_lip, bottom_lip = parts["top_lip"], parts["bottom_lip"]
    # face_recognition: top_lip = points 48-54 + 64,63,62,61,60;
    # bottom_lip = 54-59,48 + 60,67,66,65,64
    outer = top_lip[:7] + bottom_lip[1:6]
    inner = [top_lip[11], top_lip[10], top_lip[9], top_lip[8], top_lip[7],
             bottom_lip[10], bottom_lip[9], bottom_lip[8]]
    pts = (parts["chin"] + parts["left_eyebrow"] + parts["right_eyebrow"] + parts["nose_bridge"]
           + parts["nose_tip"] + parts["left_eye"] + parts["right_eye"] + outer + inner)
    return np.asarray(pts, dtype=np.float32)


def landmarks68(image: NDArray[np.uint8], box: tuple[int, int, int, int] | None = None,
                ) -> list[NDArray[np.float32]]:
    """dlib's 68 landmarks (dlib order) of each face in `image` (tests, benchmarks)."""
    import face_recognition

    boxes = [box] if box is not None else None
    found = face_recognition.face_landmarks(image, boxes, model="large")
    order = ("chin", "left_eyebrow", "right_eyebrow", "nose_bridge", "nose_tip", "left_eye",
             "right_eye", "top_lip", "bottom_lip")
    return [_dlib_order({k: f[k] for k in order}) for f in found]


@functools.lru_cache(maxsize=32)
def source_face(identity: str, index: int, face_px: int) -> SourceFace:
    """Photo `index` of `identity` scaled so that its face box is `face_px` wide."""
    base = _detected(identity, index)
    scale = face_px / base.face_width
    h, w = base.image.shape[:2]
    image = cv2.resize(base.image, (round(w * scale), round(h * scale)),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    box = tuple(round(v * scale) for v in base.box)
    return SourceFace(np.ascontiguousarray(image), (base.landmarks * scale).astype(np.float32),
                      box)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=32)
def _skin_colour(face: SourceFace) -> NDArray[np.float32]:
    marks = face.landmarks
    samples = []
    for eye_bottom, nose_side in ((41, 31), (46, 35)):
        x0, y0 = marks[eye_bottom]
        x1, y1 = marks[nose_side]
        cx, cy = (x0 * 0.6 + x1 * 0.4), (y0 * 0.5 + y1 * 0.5)
        r = max(3, int(face.face_width * 0.03))
        patch = face.image[int(cy) - r:int(cy) + r, int(cx) - r:int(cx) + r].reshape(-1, 3)
        samples.append(patch)
    return np.median(np.concatenate(samples), axis=0).astype(np.float32)
