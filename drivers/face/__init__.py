"""Face detection, 128-d templates, comparison and action liveness (pension certification).

The interface is in drivers/face/interface.py; templates are citizen data and mask themselves.
Names are imported lazily (PEP 562): `import drivers.face` loads neither dlib nor a model, and
DlibFaceEngine loads its models on first use (a kiosk that never certifies never loads them).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DlibFaceEngine": "drivers.face.dlib_engine",
    "template_distance": "drivers.face.dlib_engine",
    "VERIFY_TOLERANCE": "drivers.face.quality",
    "QualityVerdict": "drivers.face.quality",
    "QualityReason": "drivers.face.quality",
    "LandmarkModel": "drivers.face.landmarks",
    "CHALLENGES": "drivers.face.liveness",
    "draw_challenges": "drivers.face.liveness",
    "LivenessCheck": "drivers.face.liveness",
    "LivenessProgress": "drivers.face.liveness",
    "LivenessResult": "drivers.face.liveness",
    "LivenessEvidence": "drivers.face.evidence",
    "StepEvidence": "drivers.face.evidence",
    "EvidenceFrame": "drivers.face.evidence",
    "EvidenceError": "drivers.face.evidence",
    "evidence_to_json": "drivers.face.evidence",
    "evidence_from_json": "drivers.face.evidence",
    "judge_evidence": "drivers.face.judge",
    "JudgeVerdict": "drivers.face.judge",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'drivers.face' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
