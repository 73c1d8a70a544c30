"""The evidence's JSON wire form: a round trip, and hostile documents rejected cleanly."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from drivers.face.evidence import (
    EvidenceError,
    LivenessEvidence,
    evidence_from_json,
    evidence_to_json,
)
from drivers.face.liveness import LivenessResult


@pytest.fixture(scope="module")
def document(live_result: LivenessResult) -> dict[str, Any]:
    return evidence_to_json(live_result.evidence)


def test_round_trip_through_json_text(live_result: LivenessResult,
                                      document: dict[str, Any]) -> None:
    parsed = evidence_from_json(json.loads(json.dumps(document)))
    assert parsed == live_result.evidence
    assert parsed.sha256() == live_result.evidence.sha256()
    assert "jpeg" not in repr(parsed) and "\\xff" not in repr(parsed)
    assert all(len(f.jpeg) < 200_000 for f in parsed.frames)


def _mutate(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(document)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return bad


HOSTILE = {
    "not an object": lambda d: [d],
    "unknown field": lambda d: {**d, "extra": 1},
    "missing field": lambda d: {k: v for k, v in d.items() if k != "steps"},
    "wrong version": lambda d: _mutate(d, ("version",), "hrss-liveness-0"),
    "unknown challenge": lambda d: _mutate(d, ("challenges", 0), "smile"),
    "repeated challenge": lambda d: _mutate(d, ("challenges",), ["nod", "nod"]),
    "unknown step action": lambda d: _mutate(d, ("steps", 0, "action"), "wink"),
    "NaN score": lambda d: _mutate(d, ("steps", 0, "score"), float("nan")),
    "infinite score": lambda d: _mutate(d, ("steps", 0, "score"), float("inf")),
    "string score": lambda d: _mutate(d, ("steps", 0, "score"), "1.0"),
    "bool as number": lambda d: _mutate(d, ("steps", 0, "took_s"), True),
    "negative time": lambda d: _mutate(d, ("steps", 0, "started_s"), -1),
    "number as bool": lambda d: _mutate(d, ("passed",), 1),
    "bad base64": lambda d: _mutate(d, ("frames", 0, "jpeg"), "***not base64***"),
    "not a jpeg": lambda d: _mutate(d, ("frames", 0, "jpeg"),
                                    base64.b64encode(b"GIF89a" + b"\0" * 100).decode()),
    "oversized frame": lambda d: _mutate(d, ("frames", 0, "jpeg"),
                                         base64.b64encode(b"\xff\xd8\xff" + b"\0" * 300_000)
                                         .decode()),
    "100 frames": lambda d: _mutate(d, ("frames",), d["frames"] * 25),
    "unknown role": lambda d: _mutate(d, ("frames", 0, "role"), "selfie"),
    "bad box": lambda d: _mutate(d, ("frames", 0, "box"), [10, 5, 20, "x"]),
    "empty box": lambda d: _mutate(d, ("frames", 0, "box"), [10, 5, 10, 5]),
    "timings not numbers": lambda d: _mutate(d, ("timings",), {"frames": "many"}),
    "too many timings": lambda d: _mutate(d, ("timings",), {f"k{i}": 1 for i in range(100)}),
    "unknown reason": lambda d: _mutate(d, ("reason",), "because"),
    "distance out of range": lambda d: _mutate(d, ("verify_distance",), 1e9),
    "steps not a list": lambda d: _mutate(d, ("steps",), {"0": {}}),
    "huge text": lambda d: _mutate(d, ("models", "dlib"), "x" * 10_000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_evidence_is_rejected_with_evidence_error(document: dict[str, Any],
                                                          name: str) -> None:
    with pytest.raises(EvidenceError):
        evidence_from_json(HOSTILE[name](document))


def test_evidence_error_is_a_value_error_and_limits_are_parameters(
        document: dict[str, Any]) -> None:
    assert issubclass(EvidenceError, ValueError)
    with pytest.raises(EvidenceError, match="at most 2"):
        evidence_from_json(document, max_frames=2)
    with pytest.raises(EvidenceError):
        evidence_from_json(document, max_frame_bytes=1000)
    assert isinstance(evidence_from_json(document, max_frames=4), LivenessEvidence)


def test_random_damage_only_ever_raises_evidence_error(document: dict[str, Any]) -> None:
    import random

    rng = random.Random(38671)
    junk: list[Any] = [None, True, 0, -1, 1e308, "", "x" * 300, [], {}, [1, 2], {"a": 1},
                       float("nan"), "turn-left", 2**70]
    accepted = 0
    for _ in range(400):
        bad = copy.deepcopy(document)
        # Walk to a random place in the document and put junk there.
        target: Any = bad
        path: list[Any] = []
        while isinstance(target, dict | list) and target and rng.random() < 0.7:
            key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(
                len(target))
            path.append(key)
            if not isinstance(target[key], dict | list):
                break
            target = target[key]
        if not path:
            continue
        parent: Any = bad
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = rng.choice(junk)
        try:
            evidence_from_json(bad)
            accepted += 1
        except EvidenceError:
            pass
    assert accepted < 400  # most damage is caught; none of it raised anything else


def test_a_frame_too_big_is_refused_before_decoding() -> None:
    # A few kilobytes of JPEG may declare a huge image: the header is read first.
    import numpy as np

    from drivers.face.evidence import decode_jpeg, encode_jpeg

    huge = encode_jpeg(np.zeros((1200, 2000, 3), np.uint8), quality=10)
    assert len(huge) < 200_000
    with pytest.raises(EvidenceError, match="at most"):
        decode_jpeg(huge)
