"""What a liveness attempt leaves behind, and its JSON wire form (kiosk -> edge).

The evidence is biometric data (face frames): its repr is masked and it is never logged. On
the edge it is hostile input: `evidence_from_json` checks every field's type and bound and
raises `EvidenceError` (a ValueError) for anything else, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.face.interface import FaceBox

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

EVIDENCE_VERSION = "hrss-liveness-1"
CHALLENGE_NAMES = ("turn-left", "turn-right", "nod", "open-mouth", "blink")
ROLES = ("baseline", *CHALLENGE_NAMES)
REASONS = ("no-face", "two-faces", "too-dark", "still-photo", "flat-photo", "wrong-action",
           "not-same-person", "face-changed", "timeout", "poor-quality", "incomplete")
MAX_FRAMES = 8
MAX_FRAME_BYTES = 200_000
MAX_STEPS = len(CHALLENGE_NAMES)
MAX_ENTRIES = 16  # timings / models
MAX_TEXT = 200
MAX_SECONDS = 3600.0
MAX_SCORE = 1000.0
MAX_COORDINATE = 10_000
JPEG_QUALITY = 90


class EvidenceError(ValueError):
    """The evidence document is malformed or out of bounds."""


@dataclass(frozen=True)
class StepEvidence:
    action: str
    passed: bool
    score: float  # peak progress towards the action: 1.0 = its threshold
    started_s: float  # since the attempt's first frame
    took_s: float


@dataclass(frozen=True, repr=False)
class EvidenceFrame:
    role: str  # "baseline" or the challenge whose peak it shows
    jpeg: bytes
    box: FaceBox | None  # where the kiosk tracked the face
    at_s: float

    def __repr__(self) -> str:
        return f"EvidenceFrame({self.role}, <{len(self.jpeg)} bytes>)"


@dataclass(frozen=True, repr=False)
class LivenessEvidence:
    version: str
    challenges: tuple[str, ...]
    steps: tuple[StepEvidence, ...]
    verify_distance: float | None
    frames: tuple[EvidenceFrame, ...]
    timings: dict[str, float]
    models: dict[str, str]
    passed: bool
    reason: str | None

    def __repr__(self) -> str:  # frames are biometric data
        return (f"LivenessEvidence({'passed' if self.passed else self.reason}, "
                f"{list(self.challenges)}, {len(self.frames)} frames)")

    def frame(self, role: str) -> EvidenceFrame | None:
        return next((f for f in self.frames if f.role == role), None)

    def sha256(self) -> str:
        """Hex SHA-256 of the canonical JSON: what a signed record names the evidence by."""
        return hashlib.sha256(canonical_json(evidence_to_json(self))).hexdigest()


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False).encode()


def encode_jpeg(pixels: NDArray[np.uint8], quality: int = JPEG_QUALITY) -> bytes:
    """RGB pixels -> JPEG bytes."""
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())


def decode_jpeg(data: bytes, *, max_width: int = 1920, max_height: int = 1080,
                ) -> NDArray[np.uint8]:
    """JPEG bytes -> contiguous RGB pixels; EvidenceError when it is no image or too big."""
    import cv2
    import numpy as np

    if data[:3] != b"\xff\xd8\xff":
        raise EvidenceError("a frame is not a JPEG")
    buffer = np.frombuffer(data, dtype=np.uint8)
    # Read the header first: a small file may declare a huge image (a decompression bomb).
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:
        raise EvidenceError("a frame is not a readable JPEG") from exc
    if not (0 < width <= max_width and 0 < height <= max_height):
        raise EvidenceError(f"a frame is at most {max_width}x{max_height}")
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise EvidenceError("a frame is not a readable JPEG")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


# Wire form ---------------------------------------------------------------------------------
def evidence_to_json(evidence: LivenessEvidence) -> dict[str, Any]:
    return {
        "version": evidence.version,
        "challenges": list(evidence.challenges),
        "steps": [{"action": s.action, "passed": s.passed, "score": s.score,
                   "started_s": s.started_s, "took_s": s.took_s} for s in evidence.steps],
        "verify_distance": evidence.verify_distance,
        "frames": [{"role": f.role, "jpeg": base64.b64encode(f.jpeg).decode("ascii"),
                    "box": None if f.box is None else [f.box.top, f.box.right, f.box.bottom,
                                                       f.box.left],
                    "at_s": f.at_s} for f in evidence.frames],
        "timings": dict(evidence.timings),
        "models": dict(evidence.models),
        "passed": evidence.passed,
        "reason": evidence.reason,
    }


def _object(value: object, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvidenceError(f"{where} is an object")
    unknown = set(value) - keys
    missing = keys - set(value)
    if unknown:
        raise EvidenceError(f"{where} has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    if missing:
        raise EvidenceError(f"{where} misses fields: {', '.join(sorted(missing))}")
    return value


def _number(value: object, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvidenceError(f"{where} is a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise EvidenceError(f"{where} is a finite number within {low:g}..{high:g}")
    return number


def _text(value: object, where: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise EvidenceError(f"{where} is a short string")
    if choices is not None and value not in choices:
        raise EvidenceError(f"{where} is one of {', '.join(choices)}")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise EvidenceError(f"{where} is true or false")
    return value


def _list(value: object, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise EvidenceError(f"{where} is a list")
    if len(value) > limit:
        raise EvidenceError(f"{where} has at most {limit} entries")
    return value


def _box(value: object, where: str) -> FaceBox | None:
    if value is None:
        return None
    items = _list(value, where, 4)
    if len(items) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and
                                  -MAX_COORDINATE <= v <= MAX_COORDINATE for v in items):
        raise EvidenceError(f"{where} is [top, right, bottom, left] in pixels")
    top, right, bottom, left = items
    if not (top < bottom and left < right):
        raise EvidenceError(f"{where} is an empty box")
    return FaceBox(top=top, right=right, bottom=bottom, left=left)


def _jpeg(value: object, where: str, max_bytes: int) -> bytes:
    # base64 grows by 4/3: refuse the text before decoding it.
    if not isinstance(value, str) or not value or len(value) > (max_bytes + 2) // 3 * 4:
        raise EvidenceError(f"{where} is base64 of at most {max_bytes} bytes")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise EvidenceError(f"{where} is not valid base64") from exc
    if not data or len(data) > max_bytes:
        raise EvidenceError(f"{where} is at most {max_bytes} bytes")
    if data[:3] != b"\xff\xd8\xff":
        raise EvidenceError(f"{where} is not a JPEG")
    return data


def evidence_from_json(data: object, *, max_frames: int = MAX_FRAMES,
                       max_frame_bytes: int = MAX_FRAME_BYTES) -> LivenessEvidence:
    """The evidence in a JSON document from a kiosk, validated; EvidenceError otherwise."""
    try:
        return _parse(data, max_frames, max_frame_bytes)
    except EvidenceError:
        raise
    except Exception as exc:  # a shape no check above foresaw is still only malformed input
        raise EvidenceError(f"malformed evidence ({type(exc).__name__})") from exc


def _parse(data: object, max_frames: int, max_frame_bytes: int) -> LivenessEvidence:
    doc = _object(data, "evidence", {"version", "challenges", "steps", "verify_distance",
                                     "frames", "timings", "models", "passed", "reason"})
    version = _text(doc["version"], "evidence.version", (EVIDENCE_VERSION,))
    challenges = tuple(_text(c, "evidence.challenges[]", CHALLENGE_NAMES)
                       for c in _list(doc["challenges"], "evidence.challenges", MAX_STEPS))
    if not challenges or len(set(challenges)) != len(challenges):
        raise EvidenceError("evidence.challenges are distinct and not empty")
    steps = []
    for i, raw in enumerate(_list(doc["steps"], "evidence.steps", MAX_STEPS)):
        where = f"evidence.steps[{i}]"
        step = _object(raw, where, {"action", "passed", "score", "started_s", "took_s"})
        steps.append(StepEvidence(
            action=_text(step["action"], f"{where}.action", CHALLENGE_NAMES),
            passed=_bool(step["passed"], f"{where}.passed"),
            score=_number(step["score"], f"{where}.score", -MAX_SCORE, MAX_SCORE),
            started_s=_number(step["started_s"], f"{where}.started_s", 0.0, MAX_SECONDS),
            took_s=_number(step["took_s"], f"{where}.took_s", 0.0, MAX_SECONDS)))
    distance = doc["verify_distance"]
    verify_distance = None if distance is None else _number(
        distance, "evidence.verify_distance", 0.0, 10.0)
    frames = []
    for i, raw in enumerate(_list(doc["frames"], "evidence.frames", max_frames)):
        where = f"evidence.frames[{i}]"
        item = _object(raw, where, {"role", "jpeg", "box", "at_s"})
        frames.append(EvidenceFrame(
            role=_text(item["role"], f"{where}.role", ROLES),
            jpeg=_jpeg(item["jpeg"], f"{where}.jpeg", max_frame_bytes),
            box=_box(item["box"], f"{where}.box"),
            at_s=_number(item["at_s"], f"{where}.at_s", 0.0, MAX_SECONDS)))
    timings_raw = doc["timings"]
    if not isinstance(timings_raw, dict) or len(timings_raw) > MAX_ENTRIES:
        raise EvidenceError(f"evidence.timings is an object of at most {MAX_ENTRIES} numbers")
    timings = {_text(k, "evidence.timings key"): _number(v, f"evidence.timings.{k}", 0.0, 1e9)
               for k, v in timings_raw.items()}
    models_raw = doc["models"]
    if not isinstance(models_raw, dict) or len(models_raw) > MAX_ENTRIES:
        raise EvidenceError(f"evidence.models is an object of at most {MAX_ENTRIES} strings")
    models = {_text(k, "evidence.models key"): _text(v, f"evidence.models.{k}")
              for k, v in models_raw.items()}
    reason = doc["reason"]
    return LivenessEvidence(
        version=version, challenges=challenges, steps=tuple(steps),
        verify_distance=verify_distance, frames=tuple(frames), timings=timings, models=models,
        passed=_bool(doc["passed"], "evidence.passed"),
        reason=None if reason is None else _text(reason, "evidence.reason", REASONS))
