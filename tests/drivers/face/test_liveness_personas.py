"""End to end on the real engine: the simulated camera's personas (real photos, synthesised
head motion) through LivenessCheck, as the kiosk runs it."""

from __future__ import annotations

from drivers.face.dlib_engine import DlibFaceEngine
from drivers.face.interface import FaceTemplate
from drivers.face.liveness import LivenessResult
from drivers.face.quality import VERIFY_TOLERANCE
from tests.drivers.face.conftest import run_persona


def test_the_live_persona_passes_with_its_evidence(live_result: LivenessResult) -> None:
    evidence = live_result.evidence
    assert evidence.verify_distance is not None and evidence.verify_distance < VERIFY_TOLERANCE
    assert [f.role for f in evidence.frames] == ["baseline", "turn-left", "open-mouth", "nod"]
    assert all(s.passed for s in evidence.steps)
    assert evidence.timings["encodes"] == 4
    assert 0 < evidence.timings["analysis_ms_mean"] < evidence.timings["encode_ms_total"]
    assert "dlib" in evidence.models


def test_another_live_run_with_blink_passes(engine: DlibFaceEngine,
                                            template_a: FaceTemplate) -> None:
    result = run_persona(engine, template_a, "live", seed=3,
                         challenges=("blink", "turn-right", "open-mouth"))
    assert result.passed, result.reason


def test_spoof_personas_fail_with_their_reasons(engine: DlibFaceEngine,
                                                template_a: FaceTemplate) -> None:
    reasons = {name: run_persona(engine, template_a, name, seed=1,
                                 challenges=("turn-right", "nod", "open-mouth")).reason
               for name in ("photo-still", "photo-moved", "replay", "impostor", "swap")}
    assert reasons == {"photo-still": "still-photo", "photo-moved": "flat-photo",
                       "replay": "wrong-action", "impostor": "not-same-person",
                       "swap": "face-changed"}
