"""One attempt at the liveness check, run on a worker thread in segments.

The check (drivers.face.liveness.LivenessCheck) eats camera frames as fast as it can analyse
them, which is far too often to go through the flow: `CaptureRun.advance()` feeds it on the
worker until what the citizen sees would change (the state, the challenge, the step, a hint)
and returns that as a `CaptureProgress`. The certify journey asks for the next segment as its
next `Call`, so the flow's thread only ever sees a few events per challenge. `stop()` (the card
was pulled, the session ended) makes the running segment return within one frame wait.

Frames and templates never leave this object except as the check's evidence; nothing here is
logged beyond states and reason codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.camera.interface import Frame

log = logging.getLogger(__name__)

# Reasons the kiosk adds to the check's own (drivers.face.liveness): the camera gave no frames,
# or the attempt was stopped (nobody sees that one: the journey has already ended).
CAMERA_UNAVAILABLE = "camera-unavailable"
STOPPED = "stopped"
ENGINE_UNAVAILABLE = "engine-unavailable"  # the face engine could not load or broke
FRAME_WAIT_S = 0.25  # one wait for a frame: also how soon stop() is noticed
HINT_HOLD_S = 0.6  # a hint that flickers must not make the screen flicker


class ProgressLike(Protocol):
    state: str
    current: str | None
    step: int
    count: int
    reason: str | None
    hint: str | None


class ResultLike(Protocol):
    passed: bool
    reason: str | None
    evidence: object


class LivenessLike(Protocol):
    """What the journey needs of drivers.face.liveness.LivenessCheck."""

    def feed(self, frame: Frame) -> ProgressLike: ...

    def result(self) -> ResultLike: ...

    def abort(self, reason: str = "timeout") -> None: ...


class FrameSource(Protocol):
    def latest_frame(self) -> Frame | None: ...

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None: ...


@dataclass(frozen=True)
class CaptureProgress:
    """What the capture screen shows now. `step` is 0-based, as the check counts."""

    state: str = "baseline"  # "baseline" | "challenge" | "passed" | "failed"
    current: str | None = None
    step: int = 0
    count: int = 0
    hint: str | None = None
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("passed", "failed")

    @property
    def passed(self) -> bool:
        return self.state == "passed"

    @classmethod
    def of(cls, progress: ProgressLike) -> CaptureProgress:
        return cls(str(progress.state), progress.current, int(progress.step), int(progress.count),
                   progress.hint, progress.reason)


@dataclass(frozen=True)
class CaptureOutcome:
    """The end of an attempt: passed, or the reason it failed; the evidence of a passed one."""

    passed: bool
    reason: str | None
    evidence: object = field(default=None, repr=False, compare=False)


class CaptureRun:
    """One attempt: its check, the camera it reads, and a stop flag for any thread."""

    def __init__(
        self,
        camera: FrameSource,
        check: LivenessLike,
        *,
        count: int,
        announce: Callable[[str], None] = lambda _challenge: None,
        no_frames_s: float = 3.0,
        attempt_timeout_s: float = 40.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._camera = camera
        self._check = check
        self._announce = announce
        self._no_frames_s = no_frames_s
        self._clock = clock
        self._deadline = clock() + attempt_timeout_s
        self._stop = threading.Event()
        self._shown = CaptureProgress(count=count)
        self._last_sequence: int | None = None
        self._last_frame_at = clock()
        self._outcome: CaptureOutcome | None = None
        self._announced: tuple[int, str] | None = None

    @property
    def progress(self) -> CaptureProgress:
        return self._shown

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Any thread: the running segment returns within one frame wait (FRAME_WAIT_S)."""
        self._stop.set()

    def advance(self) -> CaptureProgress:
        """Feed frames until what is shown changes or the attempt ends. Call on a worker."""
        if self._outcome is not None:
            return self._shown
        shown_at = self._last_frame_at = self._clock()
        while True:
            ended = self._interrupted()
            if ended is not None:
                return self._finish(ended)
            frame = self._camera.next_frame(self._last_sequence, FRAME_WAIT_S)
            if frame is None:
                continue
            self._last_frame_at = self._clock()
            self._last_sequence = frame.sequence
            try:
                progress = CaptureProgress.of(self._check.feed(frame))
            except Exception as exc:  # the engine broke mid-attempt: end it, never hang
                log.error("certify: the liveness check failed (%s)", type(exc).__name__)
                return self._finish(CaptureOutcome(False, ENGINE_UNAVAILABLE))
            if progress.finished:
                result = self._check.result()
                self._shown = progress
                return self._finish(CaptureOutcome(
                    bool(result.passed), result.reason,
                    result.evidence if result.passed else None))
            if self._changes_what_is_shown(progress, self._clock() - shown_at):
                self._shown = progress
                self._speak(progress)
                return progress

    def _interrupted(self) -> CaptureOutcome | None:
        """Why the attempt must end before its next frame: stopped, too long, no camera."""
        if self._stop.is_set():
            return CaptureOutcome(False, STOPPED)
        now = self._clock()
        if now > self._deadline:
            self._check.abort("timeout")
            return CaptureOutcome(False, "timeout")
        if now - self._last_frame_at > self._no_frames_s:
            log.warning("certify: no camera frames for %.0f s", self._no_frames_s)
            self._check.abort("timeout")
            return CaptureOutcome(False, CAMERA_UNAVAILABLE)
        return None

    def _changes_what_is_shown(self, progress: CaptureProgress, held_s: float) -> bool:
        shown = self._shown
        if (progress.state, progress.current, progress.step) != (
                shown.state, shown.current, shown.step):
            return True
        return progress.hint != shown.hint and held_s >= HINT_HOLD_S

    def _speak(self, progress: CaptureProgress) -> None:
        # Each challenge is spoken once, when it is first asked (not again for every hint).
        if progress.state != "challenge" or progress.current is None:
            return
        said = (progress.step, progress.current)
        if said != self._announced:
            self._announced = said
            try:
                self._announce(progress.current)
            except Exception:
                log.exception("certify: announcing a challenge failed")

    def _finish(self, outcome: CaptureOutcome) -> CaptureProgress:
        self._outcome = outcome
        if not outcome.passed:
            self._shown = CaptureProgress("failed", None, self._shown.step, self._shown.count,
                                          None, outcome.reason)
        log.info("certify: attempt %s (%s)", "passed" if outcome.passed else "failed",
                 outcome.reason)
        return self._shown

    def outcome(self) -> CaptureOutcome | None:
        """None until the attempt has ended."""
        return self._outcome

    def latest_frame(self) -> Frame | None:
        """For the live preview (the UI thread reads it at ~12 fps; never blocks)."""
        return None if self._stop.is_set() else self._camera.latest_frame()
