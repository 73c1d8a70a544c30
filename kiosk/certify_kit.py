"""The certify journey's kit from this terminal's settings, peripherals and voice.

None when the terminal has no camera or no face engine, or no usable device key: then the
journey is not offered (kiosk.flow.certify_kit.capabilities_of). Nothing is loaded here: the
face models load on a worker when a citizen starts (kiosk.flow.journeys.certify).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from drivers.absent import Absent
from drivers.face.interface import FaceTemplate
from drivers.registry import PeripheralKind
from kiosk.flow.certify_kit import CertifyKit
from kiosk.flow.certify_worker import LivenessLike
from kiosk.i18n import Translator
from kiosk.peripherals import Peripherals
from kiosk.settings import KioskSettings
from kiosk.voice import Voice

log = logging.getLogger(__name__)


def kit_from(settings: KioskSettings, peripherals: Peripherals, voice: Voice,
             t: Translator) -> CertifyKit | None:
    """The kit of this terminal, or None (logged) when it cannot certify."""
    camera = peripherals[PeripheralKind.CAMERA].device
    engine = peripherals[PeripheralKind.FACE].device
    if isinstance(camera, Absent) or isinstance(engine, Absent):
        log.info("certify: no camera or no face engine here; the journey is not offered")
        return None
    key_file = settings.resolved_device_key_file()
    if key_file is None or not key_file.is_file():
        log.error("certify: no device key (%s); the journey is not offered", key_file)
        return None
    try:
        from common import signing

        key = signing.load_device_key(key_file)
    except Exception as exc:  # unreadable, not a key: staff must re-provision
        log.error("certify: the device key %s cannot be used (%s)", key_file,
                  type(exc).__name__)
        return None
    step_timeout_s = settings.certify_step_timeout_s
    count = settings.certify_challenges

    def prepare(template: FaceTemplate, challenges: tuple[str, ...]) -> LivenessLike:
        from drivers.face import LivenessCheck

        load = getattr(engine, "load", None)
        if callable(load):
            load()  # the models, once per process (seconds the first time)
        check: LivenessLike = LivenessCheck(engine, template, challenges,
                                            step_timeout_s=step_timeout_s)
        return check

    def draw(rng: random.Random) -> tuple[str, ...]:
        from drivers.face import draw_challenges

        return tuple(draw_challenges(rng, count))

    def evidence_json(evidence: object) -> dict[str, Any]:
        from drivers.face import evidence_to_json

        return dict(evidence_to_json(evidence))  # type: ignore[arg-type]

    def announce(challenge: str) -> None:
        key = f"certify.challenge.{challenge}"
        voice.say(key, t(key))

    return CertifyKit(
        camera=camera,  # type: ignore[arg-type]
        prepare=prepare, draw=draw, evidence_json=evidence_json,
        evidence_sha256=signing.evidence_sha256,
        sign=lambda payload: signing.sign(key, payload),
        device_id=settings.device_id, location=settings.location, announce=announce,
        attempt_timeout_s=step_timeout_s * (count + 1) + 10.0,
    )
