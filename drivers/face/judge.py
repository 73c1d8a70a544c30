"""The edge's second judgement on a kiosk's liveness evidence (GB/T 38671 asks for one away
from the client): decode the chosen frames, find, place and encode the face again, and check
that every frame is the template's person, that the frames are one person, and that each
challenge frame shows its action relative to the baseline frame.

CPU-bound (about 0.1 s a frame): the edge runs it in a worker thread.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.camera.interface import Frame
from drivers.face.evidence import EvidenceError, LivenessEvidence, decode_jpeg
from drivers.face.interface import FaceBox, FaceTemplate
from drivers.face.liveness import DELIBERATE, SECOND_FACE_SHARE, action_scores, is_flat
from drivers.face.measures import measure
from drivers.face.quality import VERIFY_TOLERANCE

# JPEG and a second landmark pass move the measures a little: the judge asks for most of the
# threshold, not all of it (the kiosk already required the full threshold on two frames).
JUDGE_SHARE = 0.8
TURNS = ("turn-left", "turn-right", "nod")
MIN_BOX_IOU = 0.5
# A blink is not measured again from a JPEG: JPEG at quality 90 moved a closed eye's ratio from
# 1.2 to 0.3-0.5 of the threshold in 2 of 40 live runs (the open eye's not at all), so the
# judge would refuse live people. Its frame is still checked for identity, and blink is never
# the only challenge: every evidence has a deliberate action that is measured again.
REJUDGED = DELIBERATE
Located = dict[str, tuple[Frame, FaceBox]]  # role -> its decoded frame and face box


@dataclass(frozen=True)
class JudgeVerdict:
    passed: bool
    reason: str | None
    distances: dict[str, float] = field(default_factory=dict)  # role -> to the template; "pairs"
    scores: dict[str, float] = field(default_factory=dict)  # challenge -> re-measured score


def _fail(reason: str, distances: dict[str, float] | None = None,
          scores: dict[str, float] | None = None) -> JudgeVerdict:
    return JudgeVerdict(False, reason, distances or {}, scores or {})


def _distance(a: FaceTemplate, b: FaceTemplate) -> float:
    return float(np.linalg.norm(np.asarray(a.values) - np.asarray(b.values)))


def _inside(box: FaceBox, frame: Frame) -> bool:
    return 0 <= box.left < box.right <= frame.width and 0 <= box.top < box.bottom <= frame.height


def _structure(evidence: LivenessEvidence) -> str | None:
    """What is wrong with the evidence as a whole, before any frame is looked at."""
    if not evidence.passed or [s.action for s in evidence.steps] != list(evidence.challenges) \
            or not all(s.passed for s in evidence.steps):
        return "not-passed"
    if sorted(f.role for f in evidence.frames) != sorted(["baseline", *evidence.challenges]):
        return "incomplete-evidence"
    if not any(action in REJUDGED for action in evidence.challenges):
        return "no-deliberate-action"  # blink alone is never asked (draw_challenges)
    return None


def judge_evidence(engine: Any, template: FaceTemplate, evidence: LivenessEvidence, *,
                   tolerance: float = VERIFY_TOLERANCE) -> JudgeVerdict:
    """Passed, or the first reason the evidence does not hold up."""
    refused = _structure(evidence)
    if refused is not None:
        return _fail(refused)
    found = _locate(engine, evidence)
    if isinstance(found, JudgeVerdict):
        return found
    templates = {role: engine.encode(frame, box) for role, (frame, box) in found.items()}
    distances = {role: round(_distance(template, t), 6) for role, t in templates.items()}
    pairs = [_distance(a, b) for a, b in itertools.combinations(templates.values(), 2)]
    distances["pairs"] = round(max(pairs, default=0.0), 6)
    if any(distances[role] > tolerance for role in templates):
        return _fail("not-same-person", distances)
    if distances["pairs"] > tolerance:
        return _fail("frames-differ", distances)
    return _actions(engine, evidence, found, distances)


def _locate(engine: Any, evidence: LivenessEvidence) -> Located | JudgeVerdict:
    found: Located = {}
    for item in evidence.frames:
        try:
            frame = Frame(decode_jpeg(item.jpeg), 0, 0.0)
        except (EvidenceError, ValueError):
            return _fail("bad-frame")
        boxes = engine.detect(frame)
        if len(boxes) > 1 and (boxes[1].right - boxes[1].left) >= SECOND_FACE_SHARE * (
                boxes[0].right - boxes[0].left):
            return _fail("two-faces")
        if boxes:
            found[item.role] = (frame, boxes[0])
        elif item.box is not None and _inside(item.box, frame):
            found[item.role] = (frame, item.box)  # a turned head the frontal detector misses
        else:
            return _fail("no-face")
    return found


def _iou(a: FaceBox, b: FaceBox) -> float:
    top, bottom = max(a.top, b.top), min(a.bottom, b.bottom)
    left, right = max(a.left, b.left), min(a.right, b.right)
    inter = max(bottom - top, 0) * max(right - left, 0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _placings(evidence: LivenessEvidence, found: Located) -> list[dict[str, FaceBox]]:
    """The boxes to place the landmarks in, role by role: the judge's own detections, and the
    terminal's boxes where every one of them agrees with a detection (IoU >= MIN_BOX_IOU).

    Eye and lip landmarks move with the box they are placed in (a blink's eye ratio by a third
    between a detector's box and a tracker's), so a challenge frame is measured against the
    baseline in the same kind of box; the terminal's boxes are only ever a second opinion on
    frames the judge found the same face in itself."""
    detected = {role: box for role, (_frame, box) in found.items()}
    terminal = {item.role: item.box for item in evidence.frames if item.box is not None}
    placings = [detected]
    if set(terminal) >= set(detected) and all(
            _iou(terminal[role], box) >= MIN_BOX_IOU for role, box in detected.items()):
        placings.append({role: terminal[role] for role in detected})
    return placings


def _actions(engine: Any, evidence: LivenessEvidence, found: Located,
             distances: dict[str, float]) -> JudgeVerdict:
    best: dict[str, float] = {}
    for boxes in _placings(evidence, found):
        base_frame = found["baseline"][0]
        base_points = engine.landmarks(base_frame, boxes["baseline"])
        base = measure(base_points)
        for action in evidence.challenges:
            frame = found[action][0]
            points = engine.landmarks(frame, boxes[action])
            if action in TURNS and is_flat(base_points, points):
                return _fail("flat-photo", distances, best)
            score = round(action_scores(base, base_points, measure(points), points)[action], 4)
            best[action] = max(best.get(action, score), score)
    scores = {action: best[action] for action in evidence.challenges}
    for action in evidence.challenges:
        if action in REJUDGED and scores[action] < JUDGE_SHARE:
            return _fail("action-not-shown", distances, scores)
    return JudgeVerdict(True, None, distances, scores)
