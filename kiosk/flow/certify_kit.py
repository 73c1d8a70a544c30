"""What the certify journey needs beyond the edge: the camera, the face engine, the device key.

kiosk.certify_kit.kit_from builds it from the running peripherals (the flow itself touches no
device). The face models are not loaded then: `prepare` loads them on a worker the first time
a citizen starts a certification, so a kiosk that never certifies never loads them. The app
installs the kit once (`install_kit`); the journey's descriptor reads it when it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.clock import utc_now
from drivers.face.interface import FaceTemplate
from kiosk.flow.certify_worker import FrameSource, LivenessLike

log = logging.getLogger(__name__)

CAPABILITIES = frozenset({"camera", "face"})
MAX_ATTEMPTS = 3  # the first try and two friendly retries


@dataclass(frozen=True)
class CertifyKit:
    camera: FrameSource
    # Builds one attempt's check (loading the face models the first time); on a worker.
    prepare: Callable[[FaceTemplate, tuple[str, ...]], LivenessLike]
    draw: Callable[[random.Random], tuple[str, ...]]  # a fresh random sequence per attempt
    evidence_json: Callable[[object], dict[str, Any]]  # drivers.face.evidence_to_json
    evidence_sha256: Callable[[dict[str, Any]], str]  # common.signing.evidence_sha256
    sign: Callable[[dict[str, Any]], str]  # with this terminal's device key
    device_id: str
    location: str
    announce: Callable[[str], None] = lambda _challenge: None  # speaks a challenge
    now: Callable[[], dt.datetime] = utc_now
    rng: random.Random = field(default_factory=random.SystemRandom)
    max_attempts: int = MAX_ATTEMPTS
    method: str = "hall"
    staff_id: Callable[[], str | None] = lambda: None  # field mode: the staff member logged in
    no_frames_s: float = 3.0
    attempt_timeout_s: float = 45.0
    monotonic: Callable[[], float] = time.monotonic  # the worker's own timeouts

    def __repr__(self) -> str:
        return f"CertifyKit({self.device_id}, {self.method})"


_installed: list[CertifyKit] = []  # the app's one kit, or none


def install_kit(kit: CertifyKit | None) -> None:
    """The app's kit for the certify journey (None: the app is stopping, or has none)."""
    _installed[:] = [kit] if kit is not None else []


def installed_kit() -> CertifyKit | None:
    return _installed[0] if _installed else None


def capabilities_of(kit: CertifyKit | None) -> frozenset[str]:
    """What the kit adds to the flow's capabilities: the certify journey needs both."""
    return CAPABILITIES if kit is not None else frozenset()
