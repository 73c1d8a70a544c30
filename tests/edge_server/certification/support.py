"""What the certification tests share: a due pensioner with the enrolment face, a terminal key
registered with central, evidence and the record the terminal signs."""

import base64
import datetime as dt
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import signing
from edge_server.certification import judge
from tests.edge_server.support import CENTRAL_KEY, Hall, headers, new_key


def register_key(h: Hall, device: str = "kiosk-01") -> Ed25519PrivateKey:
    private = Ed25519PrivateKey.generate()
    r = h.central.post(f"/sim/v1/devices/{device}/key",
                       json={"public_key": signing.public_key_b64(private)})
    assert r.status_code == 200, r.text
    return private


def central_status(h: Hall, citizen_id: str) -> dict:
    r = h.central.post("/central/v1/certification/query", json={"citizen_id": citizen_id},
                       headers={"Authorization": f"Bearer {CENTRAL_KEY}"})
    assert r.status_code == 200, r.text
    return r.json()


def pensioners(h: Hall, wanted: str = "due") -> Iterator[dict]:
    """Pensioners with a normal card whose status at central is `wanted`."""
    for citizen in h.citizens(receiving_pension=True, card_status="normal"):
        if central_status(h, citizen["citizen_id"])["status"] == wanted:
            yield citizen


def enrol(h: Hall, citizen: dict) -> None:
    r = h.central.post("/sim/v1/faces", json={"identity": "a",
                                              "citizen_ids": [citizen["citizen_id"]]})
    assert r.json()["bound"] == 1, r.text


def evidence(frames: int = 4, frame_bytes: int = 2000, marker: str = "ok") -> dict:
    """An evidence document in the wire form's shape (the tests' judgement reads `marker`)."""
    jpeg = base64.b64encode(b"\xff\xd8\xff" + b"\0" * frame_bytes).decode()
    roles = ["baseline", "turn-left", "nod", "blink", "open-mouth", "turn-right", "nod", "blink"]
    return {"version": "hrss-liveness-1", "challenges": ["turn-left", "nod", "blink"],
            "steps": [], "verify_distance": 0.35, "passed": True, "reason": None,
            "frames": [{"role": roles[i], "jpeg": jpeg, "box": [1, 2, 3, 0], "at_s": 0.5 * i}
                       for i in range(frames)],
            "timings": {"total_s": 4.5}, "models": {"marker": marker}}


def signed_record(key: Ed25519PrivateKey, citizen_id: str, at: dt.datetime, ev: dict,
                  device: str = "kiosk-01", **changes) -> dict:
    record = {"citizen_id": citizen_id, "certified_at": at.isoformat().replace("+00:00", "Z"),
              "method": "hall", "device_id": device, "location": "朝阳区社保大厅",
              "staff_id": None, "evidence_sha256": signing.evidence_sha256(ev),
              "result": "passed", "liveness_version": "hrss-liveness-1"}
    record.update(changes)
    record["signature"] = signing.sign(key, record)
    return record


def fake_judgement(template, document, _engine) -> judge.Verdict:
    """Passes evidence marked "ok", fails "impostor" as not the same person; checks that the
    edge hands over the enrolled template."""
    assert len(template) == 128
    marker = document.get("models", {}).get("marker")
    if marker == "impostor":
        return judge.Verdict(False, "not-same-person", {"baseline": 0.84})
    if marker == "garbage":
        raise judge.InvalidEvidence("frames[0].jpeg: not a JPEG")
    return judge.Verdict(True, None, {"baseline": 0.36})


@contextmanager
def judged_by(judgement=fake_judgement) -> Iterator[None]:
    with judge.use(judgement):
        yield


def open_session(h: Hall, citizen: dict, device: str = "kiosk-01") -> str:
    r = h.open(citizen, device=device)
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def certify(h: Hall, sid: str, ev: dict, record: dict, device: str = "kiosk-01",
            key: str | None = None):
    return h.edge.post(f"/api/v1/sessions/{sid}/certifications",
                       json={"evidence": ev, "record": record},
                       headers=headers(device, key or new_key()))


@functools.lru_cache(maxsize=8)
def _persona_evidence(name: str, identity: str, challenges: tuple[str, ...]) -> str:
    from drivers.face.evidence import (
        EVIDENCE_VERSION,
        EvidenceFrame,
        LivenessEvidence,
        StepEvidence,
        encode_jpeg,
        evidence_to_json,
    )
    from simulators.camera.personas import make_persona

    person = make_persona(name, identity=identity, seed=1)
    fps = 15
    for k in range(8):  # a neutral start, as the kiosk sees it
        person.frame(k / fps, None)
    frames = [EvidenceFrame("baseline", encode_jpeg(person.frame(0.5, None)), None, 0.5)]
    steps = []
    t = 1.0
    for challenge in challenges:
        for k in range(fps):  # asked at t; the person reacts in their own time
            person.frame(t + k / fps, challenge)
        frames.append(EvidenceFrame(challenge, encode_jpeg(person.frame(t + 1.0, challenge)),
                                    None, t + 1.0))
        steps.append(StepEvidence(challenge, True, 1.2, t, 1.0))
        t += 2.0
    evidence = LivenessEvidence(EVIDENCE_VERSION, challenges, tuple(steps), 0.35,
                                tuple(frames), {"total_s": t}, {"test": name}, True, None)
    return json.dumps(evidence_to_json(evidence))


def persona_evidence(name: str = "live", identity: str = "a",
                     challenges: tuple[str, ...] = ("turn-left", "nod", "blink")) -> dict:
    """Evidence as a kiosk would send it, of a simulated camera persona's frames (the frame
    at each challenge's peak): `live` passes a real judgement, attacks do not."""
    return json.loads(_persona_evidence(name, identity, challenges))
