"""Action liveness: a randomised challenge sequence, measured on tracked 68-point landmarks.

One `LivenessCheck` per attempt, fed camera frames on a worker thread. It first takes a
per-person baseline (a few frames of a neutral face: yaw, pitch, mouth, eye ratio), verifies
that baseline frame against the template, then asks each challenge in turn. A challenge
passes when its measure moved far enough from the baseline on consecutive frames; its peak
frame is encoded and must still be the verified person (identity continuity).

Spoofs fail with their own reasons:
- a still photo never moves ("still-photo");
- a printed photo moved or tilted deforms like a plane: one homography maps the baseline's
  landmarks onto the current ones, which a real turning head (the nose leaves the plane of
  the eyes and mouth) never allows ("flat-photo");
- a replay performing other challenges shows a different action while one is asked
  ("wrong-action"); someone else fails verification ("not-same-person"); a face swapped in
  mid-sequence jumps or no longer matches ("face-changed").
Times come from `Frame.captured_at`, so that a replayed or simulated sequence is judged the
same way every time; analysis cost is measured separately with `perf_clock`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from drivers.camera.interface import Frame
from drivers.face.evidence import (
    EVIDENCE_VERSION,
    REASONS,
    EvidenceFrame,
    LivenessEvidence,
    StepEvidence,
    encode_jpeg,
)
from drivers.face.interface import FaceBox, FaceTemplate, NoFaceFound
from drivers.face.landmarks import LandmarkModel
from drivers.face.measures import (
    FaceMeasures,
    eye_aspect_ratio,
    measure,
    mouth_ratio,
    planar_fit,
    planar_prediction,
)
from drivers.face.quality import (
    MIN_BRIGHTNESS,
    MIN_FACE_PX,
    MIN_SHARPNESS,
    VERIFY_TOLERANCE,
    brightness,
    sharpness,
)

CHALLENGES = ("turn-left", "turn-right", "nod", "open-mouth", "blink")
# Actions a person does not make by accident: one of these while another is asked is a replay.
# A blink happens by itself every few seconds, so it is never a wrong action.
DELIBERATE = ("turn-left", "turn-right", "nod", "open-mouth")

YAW_STEP = 0.10  # ~13 degrees (vision-notes: 0.1 ~ 13, 0.25 ~ 33); ask for ~20
PITCH_STEP = 0.06
MOUTH_STEP = 0.25  # closed 0.02-0.12, smiling 0.24-0.33, open 0.61
MOUTH_MIN = 0.30
BLINK_DROP = 0.35  # relative drop of the eye ratio: baselines differ between people
WRONG_FACTOR = 1.5  # "clearly performed": well past the threshold
HOLD_FRAMES = 2  # consecutive analysed frames past the threshold (blink: 1)
NEUTRAL_SCORE = 0.5  # below this an action counts as released

BASELINE_FRAMES = 6
BASELINE_MIN_S = 0.4
BASELINE_MAX_YAW = 0.30  # the per-person baseline takes a slightly turned head too

FLAT_MIN_DEFORMATION = 0.02  # in eye distances: beyond landmark noise
FLAT_MAX_SHARE = 0.45  # the homography leaves less than this share of the deformation
FLAT_FRAMES = 3
STILL_MAX_SCORE = 0.5  # no deliberate measure ever got this far (landmark noise reaches ~0.35)
# At a timeout, the frames that deformed most: a photo moved gently deforms a little beyond the
# landmark noise of the baseline, yet a homography leaves no more than that noise.
FLAT_TOP_FRAMES = 5
FLAT_MIN_NOISE_FACTOR = 2.0  # deformation at least this many times the baseline's noise
FLAT_MAX_NOISE_FACTOR = 1.5  # homography residual at most this many times the baseline's
# A turn or a nod counts only when the homography leaves this many times the baseline's noise:
# evidence that the face is not a plane (a real 20-degree turn leaves about 5 times).
NONPLANAR_NOISE_FACTOR = 2.0

MAX_JUMP = 0.5  # box centre moved more than half a face width between analysed frames
MAX_SCALE_JUMP = 1.6
SECOND_FACE_SHARE = 0.4  # a detection this big relative to the main face is a second person
TWO_FACES_S = 1.0
DARK_S = 1.5
NO_FACE_S = 2.0  # lost during the challenges for this long (a turned head is still tracked)
DETECT_EVERY = 2  # during the challenges: detection on every other frame, tracking between
MAX_EVIDENCE_FRAMES = 6

# Landmarks a blink or an open mouth does not move: the homography of the rest of the face.
_RIGID = np.array([*range(0, 36), *range(48, 49), *range(54, 55)], dtype=np.intp)
_RIGID_NO_MOUTH = np.array([*range(0, 48)], dtype=np.intp)


def draw_challenges(rng: random.Random, count: int = 3) -> tuple[str, ...]:
    """`count` distinct challenges in random order; blink is never the only one."""
    if not 1 <= count <= len(CHALLENGES):
        raise ValueError(f"between 1 and {len(CHALLENGES)} challenges")
    if count == 1:
        return (rng.choice(DELIBERATE),)
    return tuple(rng.sample(CHALLENGES, count))


def action_scores(base: FaceMeasures, base_points: NDArray[np.float64], m: FaceMeasures,
                  points: NDArray[np.float64]) -> dict[str, float]:
    """Progress of each challenge's action from the baseline to now: 1.0 = its threshold."""
    scores = {
        "turn-left": (m.yaw - base.yaw) / YAW_STEP,
        "turn-right": (base.yaw - m.yaw) / YAW_STEP,
        "nod": abs(m.pitch - base.pitch) / PITCH_STEP,
        "open-mouth": (m.mouth - base.mouth) / MOUTH_STEP,
        "blink": (1 - m.ear / base.ear) / BLINK_DROP if base.ear > 1e-6 else 0.0,
    }
    # Mouth and eyes are judged against where a planar move of the baseline face would put
    # them, so that tilting a photo (which squashes the eyes) is no blink.
    if scores["blink"] >= NEUTRAL_SCORE:
        predicted = planar_prediction(base_points, points, _RIGID)
        if predicted is not None:
            expected = base.ear * _ear(predicted) / max(_ear(base_points), 1e-6)
            scores["blink"] = (1 - m.ear / expected) / BLINK_DROP if expected > 1e-6 else 0.0
    if scores["open-mouth"] >= NEUTRAL_SCORE:
        predicted = planar_prediction(base_points, points, _RIGID_NO_MOUTH)
        if predicted is not None:
            expected = base.mouth + mouth_ratio(predicted) - mouth_ratio(base_points)
            scores["open-mouth"] = min(scores["open-mouth"], (m.mouth - expected) / MOUTH_STEP)
    if m.mouth < MOUTH_MIN:  # a wider smile is no open mouth
        scores["open-mouth"] = min(scores["open-mouth"], 0.9)
    return scores


def is_flat(base_points: NDArray[np.float64], points: NDArray[np.float64]) -> bool:
    """Did the face deform since the baseline the way a plane (a photo) does?"""
    fit = planar_fit(base_points, points)
    return fit.deformation >= FLAT_MIN_DEFORMATION and fit.planar_share <= FLAT_MAX_SHARE


class FaceEncoder(Protocol):
    def encode(self, frame: Frame, box: FaceBox | None = None) -> FaceTemplate: ...


@dataclass(frozen=True)
class LivenessProgress:
    state: str  # "baseline" | "challenge" | "passed" | "failed"
    current: str | None  # the challenge to ask now
    step: int  # index of `current` in the sequence
    count: int
    reason: str | None = None  # why it failed
    hint: str | None = None  # what the person could do now
    score: float = 0.0  # 0..1 towards the current action


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str | None
    evidence: LivenessEvidence


@dataclass
class _Chosen:
    role: str
    pixels: NDArray[np.uint8]
    box: FaceBox
    at_s: float
    template: FaceTemplate | None = None


@dataclass
class _Track:
    box: FaceBox
    points: NDArray[np.float64]
    last_detected_at: float


@dataclass
class _Step:
    action: str
    started_at: float
    hold: int = 0
    peak_score: float = 0.0
    peak: _Chosen | None = None
    wrong_hold: dict[str, int] = field(default_factory=dict)


def _centre(box: FaceBox) -> tuple[float, float]:
    return (box.left + box.right) / 2, (box.top + box.bottom) / 2


def _width(box: FaceBox) -> float:
    return float(max(box.right - box.left, 1))


def _jumped(before: FaceBox, after: FaceBox) -> bool:
    (x0, y0), (x1, y1) = _centre(before), _centre(after)
    ratio = _width(after) / _width(before)
    return (np.hypot(x1 - x0, y1 - y0) > MAX_JUMP * _width(before)
            or not 1 / MAX_SCALE_JUMP <= ratio <= MAX_SCALE_JUMP)


def _shift(box: FaceBox, dx: float, dy: float) -> FaceBox:
    return FaceBox(top=round(box.top + dy), right=round(box.right + dx),
                   bottom=round(box.bottom + dy), left=round(box.left + dx))


def _ear(points: NDArray[np.float64]) -> float:
    return (eye_aspect_ratio(points[36:42]) + eye_aspect_ratio(points[42:48])) / 2


def _distance(a: FaceTemplate, b: FaceTemplate) -> float:
    return float(np.linalg.norm(np.asarray(a.values) - np.asarray(b.values)))


class LivenessCheck:
    """One attempt. Not thread-safe: feed it from one worker thread."""

    def __init__(
        self, engine: Any, template: FaceTemplate, challenges: Sequence[str], *,
        landmark_model: LandmarkModel | None = None, step_timeout_s: float = 6.0,
        tolerance: float = VERIFY_TOLERANCE,
        perf_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        challenges = tuple(challenges)
        if not challenges or len(set(challenges)) != len(challenges) or any(
                c not in CHALLENGES for c in challenges):
            raise ValueError("challenges are distinct names from CHALLENGES")
        if challenges == ("blink",):
            raise ValueError("blink is never the only challenge")
        self._encoder: FaceEncoder = engine
        self._model: LandmarkModel = landmark_model or engine
        self._template = template
        self._challenges = challenges
        self._timeout = step_timeout_s
        self._tolerance = tolerance
        self._perf = perf_clock

        self._state = "baseline"
        self._reason: str | None = None
        self._hint: str | None = None
        self._started_at: float | None = None
        self._phase_started_at: float | None = None
        self._frames = 0
        self._track: _Track | None = None
        self._detector_sees = False
        self._two_faces_since: float | None = None
        self._dark_since: float | None = None
        self._baseline_frames: list[tuple[Frame, FaceBox, NDArray[np.float64], FaceMeasures]] = []
        self._base: FaceMeasures | None = None
        self._base_points: NDArray[np.float64] | None = None
        self._chosen: list[_Chosen] = []
        self._steps: list[StepEvidence] = []
        self._step: _Step | None = None
        self._grace: set[str] = set()
        self._flat_frames = 0
        self._fits: list[tuple[float, float]] = []  # (deformation, residual) per challenge frame
        self._noise = (0.0, 0.0)  # median (deformation, residual) within the baseline
        self._motion = 0.0
        self._last_moved = 0.0
        self._verify_distance: float | None = None
        self._score = 0.0
        self._analysis_ms: list[float] = []
        self._encode_ms: list[float] = []
        self._last_at = 0.0
        self._evidence: LivenessEvidence | None = None

    # Public -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._state in ("passed", "failed")

    @property
    def challenges(self) -> tuple[str, ...]:
        return self._challenges

    @property
    def frame_ms(self) -> tuple[float, ...]:
        """Analysis time of each fed frame, without the encodings (`perf_clock` units * 1000)."""
        return tuple(self._analysis_ms)

    @property
    def encode_ms(self) -> tuple[float, ...]:
        """Time of each encoding of a chosen frame."""
        return tuple(self._encode_ms)

    @property
    def progress(self) -> LivenessProgress:
        index = len(self._steps) if self._state == "challenge" else 0
        if self._state in ("passed", "failed"):
            index = max(len(self._steps) - 1, 0)  # the last step reached
        current = self._challenges[index] if self._state == "challenge" else None
        return LivenessProgress(state=self._state, current=current, step=index,
                                count=len(self._challenges), reason=self._reason,
                                hint=self._hint, score=min(max(self._score, 0.0), 1.0))

    def feed(self, frame: Frame) -> LivenessProgress:
        if self.done:
            return self.progress
        started = self._perf()
        encode_before = sum(self._encode_ms)
        now = frame.captured_at
        if self._started_at is None:
            self._started_at = self._phase_started_at = now
        self._last_at = now
        self._frames += 1
        try:
            self._analyse(frame, now)
        except NoFaceFound:
            self._fail("face-changed")
        took_ms = (self._perf() - started) * 1000 - (sum(self._encode_ms) - encode_before)
        self._analysis_ms.append(took_ms)
        return self.progress

    def abort(self, reason: str = "timeout") -> None:
        """The kiosk gives up (no frames, the person left): fail with `reason`."""
        if reason not in REASONS:
            raise ValueError(f"a liveness reason is one of {', '.join(REASONS)}")
        if not self.done:
            self._fail(reason)

    def result(self) -> LivenessResult:
        if not self.done:
            return LivenessResult(False, "incomplete", self._build_evidence())
        if self._evidence is None:
            self._evidence = self._build_evidence()
        return LivenessResult(self._state == "passed", self._reason, self._evidence)

    # Frame analysis -----------------------------------------------------------------------
    def _analyse(self, frame: Frame, now: float) -> None:
        self._hint = None
        # Every frame in the baseline (it is short and must be clean); then every other one.
        detect = (self._track is None or self._state == "baseline"
                  or self._frames % DETECT_EVERY == 1)
        faces = self._model.detect_fast(frame) if detect else None
        if faces is not None:
            self._detector_sees = bool(faces)  # its latest look found a face
        box = self._follow(faces, now)
        if box is None:
            self._dark_check(frame, None, now)
            if self.done:
                return
            self._hint = "no-face"
            self._no_face(now)
            return
        points = self._model.landmarks(frame, box)
        if self._track is not None and not detect:
            # Tracking: the box follows the landmarks; a jump means another face.
            shift = points.mean(axis=0) - self._track.points.mean(axis=0)
            box = _shift(self._track.box, float(shift[0]), float(shift[1]))
            if self._state == "challenge" and _jumped(self._track.box, box):
                self._fail("face-changed")
                return
        # Seen by the detector now; or tracked (a skipped detection, or a turned head the
        # detector misses, for at most NO_FACE_S).
        last_detected = now if faces or self._track is None else self._track.last_detected_at
        self._track = _Track(box=box, points=points, last_detected_at=last_detected)
        self._dark_check(frame, box, now)
        if self.done:
            return
        two = self._two_faces(faces, now)
        if self.done:
            return
        measures = measure(points)
        if self._state == "baseline":
            self._baseline(frame, box, points, measures, now, two)
        else:
            self._challenge(frame, box, points, measures, now)
        if not self.done and self._phase_started_at is not None and (
                now - self._phase_started_at > self._timeout):
            self._timed_out()

    def _two_faces(self, faces: list[FaceBox] | None, now: float) -> bool:
        """Is a second person in the frame (and for how long)? Fails after TWO_FACES_S."""
        two = faces is not None and len(faces) > 1 and (
            _width(faces[1]) >= SECOND_FACE_SHARE * _width(faces[0]))
        if faces is not None:
            self._two_faces_since = (self._two_faces_since or now) if two else None
        if self._two_faces_since is not None:
            self._hint = "two-faces"
            if now - self._two_faces_since >= TWO_FACES_S:
                self._fail("two-faces")
        return two

    def _follow(self, faces: list[FaceBox] | None, now: float) -> FaceBox | None:
        """The box of the face being followed, or None when there is none."""
        track = self._track
        if faces is None:
            return track.box if track else None
        if not faces:
            # A turned head escapes the frontal detector: keep following its landmarks.
            if track is not None and self._state == "challenge" and (
                    now - track.last_detected_at < NO_FACE_S):
                return track.box
            self._track = None
            return None
        if track is None:
            return faces[0]
        nearest = min(faces, key=lambda b: np.hypot(*np.subtract(_centre(b), _centre(track.box))))
        if self._state == "challenge" and _jumped(track.box, nearest):
            self._fail("face-changed")
            return None
        return nearest

    def _dark_check(self, frame: Frame, box: FaceBox | None, now: float) -> None:
        light = brightness(frame.pixels, box)
        if light < MIN_BRIGHTNESS:
            self._dark_since = self._dark_since if self._dark_since is not None else now
            self._hint = "more-light"
            if now - self._dark_since >= DARK_S:
                self._fail("too-dark")
        else:
            self._dark_since = None

    def _no_face(self, now: float) -> None:
        if self._phase_started_at is not None and now - self._phase_started_at > self._timeout:
            self._timed_out()

    # Baseline -----------------------------------------------------------------------------
    def _baseline(self, frame: Frame, box: FaceBox, points: NDArray[np.float64],
                  measures: FaceMeasures, now: float, two_faces: bool) -> None:
        hint = None
        if two_faces:
            hint = "two-faces"
        elif _width(box) < MIN_FACE_PX:
            hint = "move-closer"
        elif self._dark_since is not None:
            hint = "more-light"
        elif abs(measures.yaw) > BASELINE_MAX_YAW:
            hint = "face-the-camera"
        elif self._baseline_frames and abs(
                measures.yaw - self._baseline_frames[-1][3].yaw) > YAW_STEP / 2:
            hint = "hold-still"
        self._hint = hint
        if hint is not None:
            self._baseline_frames.clear()
            return
        self._baseline_frames.append((frame, box, points, measures))
        span = now - self._baseline_frames[0][0].captured_at
        if len(self._baseline_frames) < BASELINE_FRAMES or span < BASELINE_MIN_S:
            return
        candidates = self._baseline_frames
        middle = candidates[len(candidates) // 2]
        if sharpness(middle[0].pixels, middle[1]) < MIN_SHARPNESS:
            self._hint = "blurred"
            self._baseline_frames.clear()
            return
        self._base = FaceMeasures(
            yaw=float(np.median([m.yaw for *_, m in candidates])),
            pitch=float(np.median([m.pitch for *_, m in candidates])),
            mouth=float(np.median([m.mouth for *_, m in candidates])),
            ear=float(np.median([m.ear for *_, m in candidates])),
            eye_distance=float(np.median([m.eye_distance for *_, m in candidates])))
        self._base_points = middle[2]
        fits = [planar_fit(middle[2], points) for _, _, points, _ in candidates
                if points is not middle[2]]
        self._noise = (float(np.median([f.deformation for f in fits])),
                       float(np.median([f.residual for f in fits])))
        chosen = _Chosen("baseline", middle[0].pixels.copy(), middle[1], middle[0].captured_at)
        self._baseline_frames = []
        chosen.template = self._encode(middle[0], middle[1])
        self._verify_distance = _distance(self._template, chosen.template)
        self._chosen.append(chosen)
        if self._verify_distance > self._tolerance:
            self._fail("not-same-person")
            return
        self._state = "challenge"
        self._hint = None
        self._start_step(now)

    def _encode(self, frame: Frame, box: FaceBox) -> FaceTemplate:
        started = self._perf()
        try:
            return self._encoder.encode(frame, box)
        finally:
            self._encode_ms.append((self._perf() - started) * 1000)

    # Challenges ---------------------------------------------------------------------------
    def _start_step(self, now: float) -> None:
        self._step = _Step(action=self._challenges[len(self._steps)], started_at=now)
        self._phase_started_at = now
        self._score = 0.0

    def _challenge(self, frame: Frame, box: FaceBox, points: NDArray[np.float64],
                   measures: FaceMeasures, now: float) -> None:
        step = self._step
        assert step is not None and self._base_points is not None
        assert self._base is not None
        scores = action_scores(self._base, self._base_points, measures, points)
        # Natural motion: a deliberate measure away from the baseline on two frames running
        # (one frame may be landmark noise; the eye ratio is too noisy to count).
        moved = max(abs(scores[a]) for a in DELIBERATE)
        self._motion = max(self._motion, min(moved, self._last_moved))
        self._last_moved = moved
        fit = planar_fit(self._base_points, points)
        self._fits.append((fit.deformation, fit.residual))
        flat = fit.deformation >= FLAT_MIN_DEFORMATION and fit.planar_share <= FLAT_MAX_SHARE
        if flat:
            self._flat_frames += 1
            if self._flat_frames >= FLAT_FRAMES:
                self._fail("flat-photo")
                return
        asked = scores[step.action]
        self._score = asked
        self._grace = {a for a in self._grace if scores[a] >= NEUTRAL_SCORE}
        # Only while the detector's latest look found the face: landmarks placed in a box the
        # face has left are garbage, and garbage is no action of anyone's.
        seen = self._detector_sees
        for other in DELIBERATE:
            if other == step.action or other in self._grace:
                continue
            clearly = seen and scores[other] >= WRONG_FACTOR and asked < NEUTRAL_SCORE
            step.wrong_hold[other] = step.wrong_hold.get(other, 0) + 1 if clearly else 0
            if step.wrong_hold[other] >= HOLD_FRAMES:
                # A sudden "action" may be another face swapped in: that is the worse news.
                same = _distance(self._template, self._encode(frame, box)) <= self._tolerance
                self._fail("wrong-action" if same else "face-changed")
                return
        # A turn or a nod counts only when the face did not move like a plane.
        planar = flat or fit.residual < NONPLANAR_NOISE_FACTOR * self._noise[1]
        counts = asked >= 1.0 and not (planar and step.action in ("turn-left", "turn-right",
                                                                  "nod"))
        step.hold = step.hold + 1 if counts else 0
        if counts and asked > step.peak_score:
            step.peak_score = asked
            step.peak = _Chosen(step.action, frame.pixels.copy(), box, now)
        needed = 1 if step.action == "blink" else HOLD_FRAMES
        if step.hold >= needed and step.peak is not None:
            self._pass_step(step, now)

    def _pass_step(self, step: _Step, now: float) -> None:
        peak = step.peak
        assert peak is not None
        peak.template = self._encode(Frame(peak.pixels, 0, peak.at_s), peak.box)
        earlier = [c.template for c in self._chosen if c.template is not None]
        same = _distance(self._template, peak.template) <= self._tolerance and all(
            _distance(t, peak.template) <= self._tolerance for t in earlier)
        self._chosen.append(peak)
        self._steps.append(StepEvidence(
            action=step.action, passed=same, score=round(step.peak_score, 4),
            started_s=round(step.started_at - (self._started_at or 0.0), 4),
            took_s=round(now - step.started_at, 4)))
        self._step = None
        if not same:  # the action was done, by a face that is not the verified one
            self._fail("face-changed")
            return
        self._grace = {step.action}
        if len(self._steps) == len(self._challenges):
            self._state = "passed"
            self._hint = None
            return
        self._start_step(now)

    # Endings ------------------------------------------------------------------------------
    def _timed_out(self) -> None:
        if self._state == "baseline":
            hint = self._hint
            self._fail({"two-faces": "two-faces", "more-light": "too-dark", "no-face": "no-face",
                        None: "poor-quality"}.get(hint, "poor-quality"))
            return
        if self._track is None:
            self._fail("no-face")
        elif self._flat_frames or self._moved_like_a_plane():
            self._fail("flat-photo")
        elif not self._steps and self._motion < STILL_MAX_SCORE:
            self._fail("still-photo")
        else:
            self._fail("timeout")

    def _moved_like_a_plane(self) -> bool:
        if not self._fits:
            return False
        top = sorted(self._fits)[-FLAT_TOP_FRAMES:]
        deformation = float(np.mean([d for d, _ in top]))
        residual = float(np.mean([r for _, r in top]))
        noise_deformation, noise_residual = self._noise
        return (deformation >= max(FLAT_MIN_NOISE_FACTOR * noise_deformation,
                                   FLAT_MIN_DEFORMATION)
                and residual <= FLAT_MAX_NOISE_FACTOR * noise_residual)

    def _fail(self, reason: str) -> None:
        if self.done:
            return
        step = self._step
        if step is not None and self._state == "challenge":
            self._steps.append(StepEvidence(
                action=step.action, passed=False, score=round(max(step.peak_score, self._score), 4),
                started_s=round(step.started_at - (self._started_at or 0.0), 4),
                took_s=round(self._last_at - step.started_at, 4)))
        self._state = "failed"
        self._reason = reason
        self._step = None

    def _build_evidence(self) -> LivenessEvidence:
        started = self._perf()
        frames = tuple(EvidenceFrame(role=c.role, jpeg=encode_jpeg(c.pixels), box=c.box,
                                     at_s=round(c.at_s - (self._started_at or 0.0), 4))
                       for c in self._chosen[:MAX_EVIDENCE_FRAMES])
        jpeg_ms = (self._perf() - started) * 1000
        analysis = self._analysis_ms or [0.0]
        timings = {
            "frames": float(self._frames),
            "analysis_ms_mean": round(float(np.mean(analysis)), 3),
            "analysis_ms_max": round(float(np.max(analysis)), 3),
            "encodes": float(len(self._encode_ms)),
            "encode_ms_total": round(float(sum(self._encode_ms)), 3),
            "jpeg_ms": round(jpeg_ms, 3),
            "duration_s": round(self._last_at - (self._started_at if self._started_at is not None
                                                else self._last_at), 4),
        }
        try:
            models = dict(self._model.versions())
        except Exception:  # a plugged-in model without versions is no reason to lose the result
            models = {}
        models["liveness"] = EVIDENCE_VERSION
        return LivenessEvidence(
            version=EVIDENCE_VERSION, challenges=self._challenges, steps=tuple(self._steps),
            verify_distance=(round(self._verify_distance, 6)
                             if self._verify_distance is not None else None),
            frames=frames, timings=timings, models=models, passed=self._state == "passed",
            reason=self._reason)
