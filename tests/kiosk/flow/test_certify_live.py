"""The certify journey with its real parts: dlib, the liveness check, the evidence, the device
key, and a simulated-camera persona that performs whatever the kiosk *announces* (the voice
hook), frame by frame on simulated time."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np
import pytest

from common import signing
from drivers.camera.interface import Frame
from drivers.face.interface import FaceTemplate
from kiosk.flow import Action, ScreenName
from kiosk.flow.journeys.certify import CertifyInfo
from kiosk.flow.journeys.steps import Receipted
from tests.kiosk.flow.test_certify import CertifyKiosk, FakeMonotonic

FPS = 15.0


class PersonaCamera:
    """A camera whose scene is a persona; `asked` is what the kiosk last said aloud."""

    def __init__(self, name: str, clock: FakeMonotonic, seed: int = 0) -> None:
        from simulators.camera.personas import make_persona

        self.persona = make_persona(name, seed=seed)
        self.clock = clock
        self.asked: str | None = None
        self.sequence = -1
        self._last: Frame | None = None

    def latest_frame(self) -> Frame | None:
        return self._last

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        self.sequence += 1
        t = self.sequence / FPS
        self.clock.now = t
        self._last = Frame(np.ascontiguousarray(self.persona.frame(t, self.asked)),
                           self.sequence, t)
        return self._last


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    path = tmp_path_factory.mktemp("key") / "kiosk.signing-key.pem"
    public = signing.generate_device_key(path)
    return signing.load_device_key(path), public


@pytest.fixture(scope="module")
def engine() -> Any:
    from drivers.face.dlib_engine import DlibFaceEngine

    face = DlibFaceEngine()
    face.load()
    return face


@pytest.fixture(scope="module")
def enrolled() -> FaceTemplate:
    """Central's template: face_recognition on person A's enrolment photo, as the sim does."""
    import face_recognition

    from simulators.camera.photos import photos

    image = face_recognition.load_image_file(str(photos("a")[0].path))
    (encoding,) = face_recognition.face_encodings(image)
    return FaceTemplate(tuple(float(v) for v in encoding))


def _kiosk(key: tuple[Any, str], engine: Any, template: FaceTemplate,
           persona: str, seed: int) -> tuple[CertifyKiosk, PersonaCamera]:
    from drivers.face import LivenessCheck, draw_challenges, evidence_to_json
    from tests.kiosk.flow.test_certify import CertifyEdge, status

    kiosk = CertifyKiosk(key, CertifyEdge(status_script=[status(
        template=list(template.values))]))
    camera = PersonaCamera(persona, kiosk.monotonic, seed)

    def announce(challenge: str) -> None:
        kiosk.announced.append(challenge)
        camera.asked = challenge

    kiosk.kit = dataclasses.replace(
        kiosk.kit, camera=camera,
        prepare=lambda tpl, challenges: LivenessCheck(engine, tpl, challenges),
        draw=lambda _rng: tuple(draw_challenges(random.Random(seed))),
        evidence_json=lambda ev: dict(evidence_to_json(ev)), announce=announce,
        attempt_timeout_s=40.0)
    return kiosk, camera


def test_a_live_person_who_does_what_is_said_is_certified(
        key: tuple[Any, str], engine: Any, enrolled: FaceTemplate) -> None:
    from drivers.face import evidence_from_json

    kiosk, camera = _kiosk(key, engine, enrolled, "live", seed=3)
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    data = kiosk.data
    assert kiosk.screen is ScreenName.RECEIPT, data
    assert isinstance(data, Receipted)
    assert len(kiosk.announced) == 3 and camera.sequence < 40 * FPS
    ((_sid, body, _key),) = kiosk.edge.submit_calls
    record, evidence = body["record"], body["evidence"]
    assert signing.verify(kiosk.public_key, record, record["signature"])
    assert record["evidence_sha256"] == signing.evidence_sha256(evidence)
    parsed = evidence_from_json(evidence)  # what the edge's judge reads back
    assert parsed.challenges == tuple(kiosk.announced) and parsed.passed
    assert record["liveness_version"] == parsed.version


def test_a_printed_photo_is_not_certified_and_not_accused(
        key: tuple[Any, str], engine: Any, enrolled: FaceTemplate) -> None:
    kiosk, _camera = _kiosk(key, engine, enrolled, "photo-still", seed=1)
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    info = kiosk.data
    assert kiosk.screen is ScreenName.CERTIFY and isinstance(info, CertifyInfo)
    assert info.state == "failed" and info.words == "certify.reason.not-completed", info
    assert kiosk.edge.submit_calls == []
