"""The edge's second judgement of a kiosk's liveness evidence: drivers.face's `judge_evidence`
(decode the frames, detect and encode again, compare with the enrolled template and with each
other, re-measure each challenge's action), run here so that a tampered or replayed kiosk
cannot certify on its own word.

dlib is CPU-bound and its models are not shared across threads: a pool of engines, one per
allowed concurrent judgement (`certification_judge_concurrency`), each used by one request at
a time; a request waits at most `certification_judge_wait_s` for one (then JudgeBusy, 503).
dlib is imported on the first judgement only, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_FRAMES = 8
MAX_FRAME_BYTES = 200_000


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str | None  # the judge's reason code when not passed
    distances: Mapping[str, float] = field(default_factory=dict)


class InvalidEvidence(ValueError):
    """The evidence is not valid data (shape, sizes, frames that do not decode)."""


class JudgeUnavailable(RuntimeError):
    """The face engine cannot work here (dlib or its models missing)."""


class JudgeBusy(RuntimeError):
    """Every engine was busy for longer than the wait."""


# (template values, evidence JSON) -> verdict. The real one is `_dlib_judgement`; tests of the
# flow around it may `use()` another.
Judgement = Callable[[tuple[float, ...], dict[str, Any], Any], Verdict]


def _dlib_judgement(template: tuple[float, ...], evidence_json: dict[str, Any],
                    engine: Any) -> Verdict:
    try:
        from drivers.face import EvidenceError, evidence_from_json, judge_evidence
        from drivers.face.interface import FaceEngineUnavailable, FaceTemplate
    except ImportError as exc:
        raise JudgeUnavailable(f"drivers.face: {exc}") from None
    try:
        evidence = evidence_from_json(evidence_json, max_frames=MAX_FRAMES,
                                      max_frame_bytes=MAX_FRAME_BYTES)
    except EvidenceError as exc:
        raise InvalidEvidence(str(exc)[:200]) from None
    try:
        enrolled = FaceTemplate(tuple(template))
    except ValueError:
        return Verdict(False, "bad-template")  # the enrolment, not the kiosk, is at fault
    try:
        verdict = judge_evidence(engine, enrolled, evidence)
    except FaceEngineUnavailable as exc:
        raise JudgeUnavailable(str(exc)[:200]) from None
    except Exception as exc:  # frames are the kiosk's input: never a 5xx
        # The type only: a message could describe the frames.
        log.error("the judge failed on a certification's frames: %s", type(exc).__name__)
        return Verdict(False, "bad-frame")
    return Verdict(bool(verdict.passed), verdict.reason,
                   {str(k): float(v) for k, v in dict(verdict.distances).items()})


def _new_engine() -> Any:
    try:
        from drivers.face import DlibFaceEngine
    except ImportError as exc:
        raise JudgeUnavailable(f"drivers.face: {exc}") from None
    return DlibFaceEngine()


class Judge:
    """A bounded pool of face engines and the judgement run on one of them."""

    def __init__(self, concurrency: int, wait_s: float,
                 new_engine: Callable[[], Any] = _new_engine) -> None:
        self.concurrency = concurrency
        self.wait_s = wait_s
        self._new_engine = new_engine
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(concurrency)

    def __call__(self, template: tuple[float, ...], evidence_json: dict[str, Any]) -> Verdict:
        if not self._slots.acquire(timeout=self.wait_s):
            raise JudgeBusy(f"{self.concurrency} judgements running for over {self.wait_s:g} s")
        try:
            engine = self._engine()
            try:
                return _judgement[-1](template, evidence_json, engine)
            finally:
                self._idle.put(engine)
        finally:
            self._slots.release()

    def _engine(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._new_engine()


# The judgement in use: the last one (use() pushes and pops).
_judgement: list[Judgement] = [_dlib_judgement]
_JUDGES: dict[tuple[int, float], Judge] = {}
_JUDGES_LOCK = threading.Lock()


def judge_for(concurrency: int, wait_s: float) -> Judge:
    """The process's judge for these settings (engines are kept between requests)."""
    with _JUDGES_LOCK:
        return _JUDGES.setdefault((concurrency, wait_s), Judge(concurrency, wait_s))


@contextlib.contextmanager
def use(judgement: Judgement) -> Iterator[None]:
    """Judge with `judgement` instead of dlib meanwhile (tests of the flow around it)."""
    _judgement.append(judgement)
    try:
        yield
    finally:
        _judgement.remove(judgement)
