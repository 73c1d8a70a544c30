"""The edge's second judgement on real evidence from the live persona."""

from __future__ import annotations

import dataclasses

from drivers.camera.interface import Frame
from drivers.face.dlib_engine import DlibFaceEngine
from drivers.face.evidence import EvidenceFrame, LivenessEvidence, encode_jpeg
from drivers.face.interface import FaceTemplate
from drivers.face.judge import judge_evidence
from drivers.face.liveness import LivenessResult


def _replace_frame(evidence: LivenessEvidence, role: str, jpeg: bytes) -> LivenessEvidence:
    frames = tuple(dataclasses.replace(f, jpeg=jpeg) if f.role == role else f
                   for f in evidence.frames)
    return dataclasses.replace(evidence, frames=frames)


def test_the_judge_passes_real_evidence(engine: DlibFaceEngine, template_a: FaceTemplate,
                                        live_result: LivenessResult) -> None:
    verdict = judge_evidence(engine, template_a, live_result.evidence)
    assert verdict.passed, (verdict.reason, verdict.distances, verdict.scores)
    assert set(verdict.distances) == {"baseline", "turn-left", "open-mouth", "nod", "pairs"}
    assert all(score >= 0.8 for score in verdict.scores.values())


def test_a_frame_of_someone_else_fails(engine: DlibFaceEngine, template_a: FaceTemplate,
                                       live_result: LivenessResult,
                                       photo_frames: dict[str, Frame]) -> None:
    other = encode_jpeg(photo_frames["b0"].pixels)
    verdict = judge_evidence(engine, template_a,
                             _replace_frame(live_result.evidence, "open-mouth", other))
    assert not verdict.passed and verdict.reason == "not-same-person"
    assert verdict.distances["open-mouth"] > 0.6


def test_a_challenge_frame_without_its_action_fails(
        engine: DlibFaceEngine, template_a: FaceTemplate, live_result: LivenessResult) -> None:
    baseline = live_result.evidence.frame("baseline")
    assert baseline is not None
    verdict = judge_evidence(engine, template_a,
                             _replace_frame(live_result.evidence, "turn-left", baseline.jpeg))
    assert verdict.reason == "action-not-shown"


def test_structural_problems(engine: DlibFaceEngine, template_a: FaceTemplate,
                             live_result: LivenessResult) -> None:
    evidence = live_result.evidence
    failed = dataclasses.replace(evidence, passed=False, reason="timeout")
    assert judge_evidence(engine, template_a, failed).reason == "not-passed"
    fewer = dataclasses.replace(evidence, frames=evidence.frames[:2])
    assert judge_evidence(engine, template_a, fewer).reason == "incomplete-evidence"
    broken = _replace_frame(evidence, "nod", b"\xff\xd8\xff" + b"\0" * 64)
    assert judge_evidence(engine, template_a, broken).reason == "bad-frame"
    blank = EvidenceFrame(role="nod", jpeg=encode_jpeg(
        _grey()), box=None, at_s=1.0)
    nothing = dataclasses.replace(evidence, frames=(*evidence.frames[:3], blank))
    assert judge_evidence(engine, template_a, nothing).reason == "no-face"


def _grey():  # type: ignore[no-untyped-def]
    import numpy as np

    return np.full((480, 640, 3), 120, np.uint8)


def test_evidence_of_a_blink_alone_is_refused(engine: DlibFaceEngine, template_a: FaceTemplate,
                                              live_result: LivenessResult) -> None:
    # A blink is not measured again from a JPEG (judge.REJUDGED): evidence whose only challenge
    # is a blink, which no kiosk asks for, would leave nothing to judge.
    evidence = live_result.evidence
    baseline = evidence.frame("baseline")
    assert baseline is not None
    step = dataclasses.replace(evidence.steps[0], action="blink")
    blink = dataclasses.replace(evidence.frames[1], role="blink")
    alone = dataclasses.replace(evidence, challenges=("blink",), steps=(step,),
                                frames=(baseline, blink))
    assert judge_evidence(engine, template_a, alone).reason == "no-deliberate-action"
