"""Pension qualification certification at the hall (养老保险待遇资格认证), issue 7.

    home ─START→ [status call] → certify (not due / done / not a pensioner: explained, BACK)
      due ─NEXT→ [prepare: load the face models, "请稍候"] → capture (live preview, challenge
      shown and spoken, step k of n) ⟲ [one segment of the check per call]
      → passed → [submit: evidence + record signed with the device key] → receipt
      → failed → certify (the reason in plain words; NEXT tries again, at most 2 retries;
                 DONE: "please go to the counter")

The liveness check runs on a worker, one segment per `Call` (kiosk.flow.certify_worker), so the
flow's thread sees only what changes on screen. The template from the edge and the evidence
live in this step machine only: never on disk, wiped when the journey ends. A card pulled
mid-capture ends the session (the core) and `wipe()` stops the running segment at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from common.clock import iso_utc
from drivers.camera.interface import Frame
from drivers.face.interface import FaceEngineUnavailable, FaceTemplate
from kiosk.edge.certification import (
    CERTIFICATION_NOT_DUE,
    CERTIFICATION_PENDING,
    JUDGEMENT_FAILED,
    REFUSED_CODES,
    CertificationReceipt,
    CertificationState,
    CertificationStatus,
)
from kiosk.edge.errors import EdgeProblem
from kiosk.flow.certify_kit import CAPABILITIES, CertifyKit, installed_kit
from kiosk.flow.certify_worker import (
    CAMERA_UNAVAILABLE,
    ENGINE_UNAVAILABLE,
    CaptureOutcome,
    CaptureProgress,
    CaptureRun,
)
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import (
    LEAVE,
    Call,
    Capabilities,
    Journey,
    JourneyContext,
    Shown,
    Step,
)
from kiosk.flow.journeys.steps import Receipted
from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import Action, ScreenName

log = logging.getLogger(__name__)

KEY = "certify"

# The failure words (`certify.reason.<words>.title/.body`) of each reason code: the citizen
# hears what to do differently, and a suspected spoof is never called one ("未能完成认证").
FAILURE_WORDS: dict[str, str] = {
    "no-face": "no-face",
    "two-faces": "two-faces",
    "too-dark": "too-dark",
    "timeout": "timeout",
    "poor-quality": "poor-quality",
    CAMERA_UNAVAILABLE: CAMERA_UNAVAILABLE,
    ENGINE_UNAVAILABLE: ENGINE_UNAVAILABLE,
}
NOT_COMPLETED = "not-completed"  # still-photo, flat-photo, wrong-action, another person, ...
# Failures another try cannot mend: the camera is out, or the edge refused the record itself.
FINAL_REASONS = frozenset({CAMERA_UNAVAILABLE, ENGINE_UNAVAILABLE, "refused"})


def failure_words(reason: str | None) -> str:
    return FAILURE_WORDS.get(reason or "", NOT_COMPLETED)


@dataclass(frozen=True)
class CertifyInfo:
    """The certify screen's content: where the citizen's certification stands, in words.

    `state`: a CertificationState ("due", "done", "not-due", ...), "pending" (one already
    waits at the edge), "no-photo", "unavailable", "passed" (sending it), or "failed".
    """

    state: str
    explanation: str = ""  # the platform's own sentence, when it sent one
    due_date: dt.date | None = None
    reason: str | None = None  # "failed": the reason code (shown through failure_words)
    attempts_left: int = 0

    @property
    def may_start(self) -> bool:
        return self.state == CertificationState.DUE

    @property
    def may_retry(self) -> bool:
        return self.state == "failed" and self.attempts_left > 0

    @property
    def may_send(self) -> bool:
        return self.state == "passed"

    @property
    def words(self) -> str:
        """The catalogue prefix of its title and body."""
        if self.state == "failed":
            return f"certify.reason.{failure_words(self.reason)}"
        return f"certify.{self.state}"


@dataclass(frozen=True)
class CaptureView:
    """The capture screen's content. `preview` gives the newest camera frame (never blocks)."""

    phase: str  # "preparing" (the models load: "请稍候") | "capturing"
    progress: CaptureProgress
    attempt: int
    attempts: int
    preview: Callable[[], Frame | None] = field(repr=False, compare=False,
                                                default=lambda: None)


@dataclass(frozen=True)
class Refused:
    """The edge would not take the certification (its 422): the code and the judge's reason."""

    code: str
    reason: str = ""


class Phase(StrEnum):
    STATUS = "status"
    INFO = "info"
    DUE = "due"
    PREPARING = "preparing"
    CAPTURING = "capturing"
    FAILED = "failed"
    SENDING = "sending"
    RECEIPT = "receipt"


class _Once:
    """A value computed on first use (on the worker), the same on every retry of its Call."""

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        self._make: Callable[[], dict[str, Any]] | None = make
        self._value: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None:
                assert self._make is not None
                self._value, self._make = self._make(), None
            return self._value

    def wipe(self) -> None:
        with self._lock:
            self._value = self._make = None

    def __repr__(self) -> str:
        return "_Once(…)"


def signed_record(kit: CertifyKit, citizen_id: str, evidence_json: dict[str, Any],
                  liveness_version: str, staff_id: str | None = None) -> dict[str, Any]:
    """The record central keeps, signed with this terminal's key (common/signing.py)."""
    record: dict[str, Any] = {
        "citizen_id": citizen_id,
        "certified_at": iso_utc(kit.now()),
        "method": kit.method,
        "device_id": kit.device_id,
        "location": kit.location,
        "staff_id": staff_id,
        "evidence_sha256": kit.evidence_sha256(evidence_json),
        "result": "passed",
        "liveness_version": liveness_version[:40] or "unknown",
    }
    record["signature"] = kit.sign(record)
    return record


class CertifySteps:
    def __init__(self, ctx: JourneyContext, kit: CertifyKit | None) -> None:
        self._session_id = ctx.session_id or ""
        self._new_key = ctx.new_key
        self._kit = kit
        self._phase = Phase.STATUS
        self._info = CertifyInfo("unavailable")
        self._citizen_id: str | None = None
        self._template: FaceTemplate | None = None
        self._attempt = 0
        self._run: CaptureRun | None = None
        self._call: Call | None = None  # the one this step machine waits for
        self._submit: Call | None = None
        self._body: _Once | None = None
        self._receipt: CertificationReceipt | None = None

    def __repr__(self) -> str:  # it holds a template and an ID number: neither in a log
        return f"CertifySteps({self._phase}, attempt={self._attempt})"

    @property
    def _attempts(self) -> int:
        return self._kit.max_attempts if self._kit is not None else 0

    # Steps ------------------------------------------------------------------------------------

    def begin(self) -> Step:
        if self._kit is None or not self._session_id:
            return self._explain(CertifyInfo("unavailable"))
        session_id = self._session_id
        return self._ask(Call(
            "certification-status",
            lambda edge: edge.get_certification(session_id),
            busy=ScreenName.LOADING,
        ))

    def on_answer(self, call: Call, value: object) -> Step:
        if call is not self._call:
            return None
        self._call = None
        step: Step = None
        match value:
            case CertificationStatus():
                step = self._on_status(value)
            case CaptureRun():
                self._run, self._phase = value, Phase.CAPTURING
                step = self._segment()
            case CaptureProgress():
                step = self._on_progress()
            case CaptureOutcome(reason=reason):  # the attempt could not even begin
                step = self._failed(reason)
            case CertificationReceipt():
                self._receipt, self._phase = value, Phase.RECEIPT
                self._forget_biometrics()
            case Refused():
                step = self._on_refused(value)
            case _:
                log.warning("certify: unexpected answer %s to %s", type(value).__name__,
                            call.name)
        return step

    def on_tap(self, tap: Tap) -> Step:
        action = tap.action
        match self._phase:
            case Phase.DUE if action is Action.NEXT:
                return self._start_attempt()
            case Phase.FAILED if action is Action.NEXT and self._info.may_retry:
                return self._start_attempt()
            case Phase.SENDING if action is Action.NEXT and self._submit is not None:
                return self._ask(self._submit)  # the same key: the edge answers once
            case _ if action in (Action.BACK, Action.DONE, Action.OK):
                return LEAVE
        return None

    def shown(self) -> Shown:
        match self._phase:
            case Phase.PREPARING | Phase.CAPTURING:
                run = self._run if self._phase is Phase.CAPTURING else None
                progress = run.progress if run is not None else CaptureProgress()
                camera = self._kit.camera if self._kit is not None else None
                preview = (run.latest_frame if run is not None
                           else camera.latest_frame if camera is not None else (lambda: None))
                return Shown(ScreenName.CAPTURE, CaptureView(
                    str(self._phase), progress, self._attempt, self._attempts, preview))
            case Phase.RECEIPT if self._receipt is not None:
                return Shown(ScreenName.RECEIPT, Receipted(self._receipt))
            case Phase.SENDING:
                return Shown(ScreenName.CERTIFY, CertifyInfo("passed"))
        return Shown(ScreenName.CERTIFY, self._info)

    def wipe(self) -> None:
        self._stop_run()
        self._forget_biometrics()
        self._citizen_id = None
        self._call = self._submit = None
        self._receipt = None
        self._session_id = ""

    # Inside -----------------------------------------------------------------------------------

    def _ask(self, call: Call) -> Call:
        self._call = call
        return call

    def _explain(self, info: CertifyInfo) -> Step:
        self._phase, self._info = Phase.INFO, info
        return None

    def _on_status(self, status: CertificationStatus) -> Step:
        log.info("certify: status %s%s", status.status, " (pending)" if status.pending else "")
        info = CertifyInfo(str(status.status), status.explanation, status.due_date)
        if status.status is not CertificationState.DUE:
            return self._explain(info)
        if status.pending:
            return self._explain(CertifyInfo("pending", status.explanation, status.due_date))
        template = status.face_template()
        if template is None or status.citizen_id is None:
            # Nothing to compare the face with (no photo on record): only the counter can help.
            return self._explain(CertifyInfo("no-photo", status.explanation, status.due_date))
        self._template, self._citizen_id = template, status.citizen_id
        self._phase, self._info = Phase.DUE, info
        return None

    def _start_attempt(self) -> Step:
        kit, template = self._kit, self._template
        if kit is None or template is None:
            return LEAVE
        self._stop_run()
        self._attempt += 1
        challenges = kit.draw(kit.rng)
        self._phase = Phase.PREPARING

        def prepare(_edge: EdgePort) -> CaptureRun | CaptureOutcome:
            try:
                check = kit.prepare(template, challenges)
            except FaceEngineUnavailable as exc:  # models missing, dlib failed to load
                log.error("certify: the face engine is unavailable (%s)", exc)
                return CaptureOutcome(False, ENGINE_UNAVAILABLE)
            except Exception:  # a bug: the citizen is sent to the counter, not left waiting
                log.exception("certify: preparing the liveness check failed")
                return CaptureOutcome(False, ENGINE_UNAVAILABLE)
            return CaptureRun(kit.camera, check, count=len(challenges), announce=kit.announce,
                              no_frames_s=kit.no_frames_s,
                              attempt_timeout_s=kit.attempt_timeout_s, clock=kit.monotonic)

        log.info("certify: attempt %d of %d (%d challenges)", self._attempt, self._attempts,
                 len(challenges))
        return self._ask(Call("certify-prepare", prepare, busy=ScreenName.CAPTURE))

    def _segment(self) -> Step:
        run = self._run
        assert run is not None
        return self._ask(Call("certify-capture", lambda _edge: run.advance(),
                              busy=ScreenName.CAPTURE))

    def _on_progress(self) -> Step:
        run = self._run
        if run is None:
            return None
        outcome = run.outcome()
        if outcome is None:
            return self._segment()
        self._run = None
        if outcome.passed:
            return self._send(outcome.evidence)
        return self._failed(outcome.reason)

    def _failed(self, reason: str | None) -> Step:
        left = 0 if reason in FINAL_REASONS else max(self._attempts - self._attempt, 0)
        self._phase = Phase.FAILED
        self._info = CertifyInfo("failed", reason=reason, attempts_left=left)
        return None

    def _send(self, evidence: object) -> Step:
        kit, citizen_id, session_id = self._kit, self._citizen_id, self._session_id
        assert kit is not None and citizen_id is not None
        key = self._new_key()

        def build() -> dict[str, Any]:
            evidence_json = kit.evidence_json(evidence)
            version = str(getattr(evidence, "version", "") or evidence_json.get("version", ""))
            return {"evidence": evidence_json,
                    "record": signed_record(kit, citizen_id, evidence_json, version,
                                            staff_id=kit.staff_id())}

        body = self._body = _Once(build)

        def submit(edge: EdgePort) -> object:
            try:
                return edge.submit_certification(session_id, body(), idempotency_key=key)
            except EdgeProblem as problem:
                if problem.status == 422 and problem.code in REFUSED_CODES:
                    return Refused(problem.code, str(problem.extra.get("reason") or "")[:64])
                if problem.code == CERTIFICATION_PENDING:
                    return Refused(problem.code)
                raise

        self._phase = Phase.SENDING
        self._submit = Call("certification", submit, key=key, busy=ScreenName.SUBMITTING)
        return self._ask(self._submit)

    def _on_refused(self, refused: Refused) -> Step:
        log.warning("certify: the edge refused it (%s %s)", refused.code, refused.reason)
        self._submit = None
        self._forget_biometrics(keep_template=True)
        if refused.code == CERTIFICATION_NOT_DUE:
            return self._explain(CertifyInfo(CertificationState.DONE))
        if refused.code == CERTIFICATION_PENDING:
            return self._explain(CertifyInfo("pending"))
        if refused.code == JUDGEMENT_FAILED:  # the edge's second look: another try may pass
            return self._failed(refused.reason or JUDGEMENT_FAILED)
        return self._failed("refused")

    def _stop_run(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            run.stop()

    def _forget_biometrics(self, keep_template: bool = False) -> None:
        if self._body is not None:
            self._body.wipe()
            self._body = None
        if not keep_template:
            self._template = None


def _offered(capabilities: Capabilities) -> bool:
    return capabilities >= CAPABILITIES


def certify_journey(kit: Callable[[], CertifyKit | None] = installed_kit) -> Journey:
    """The journey with its kit from `kit()` at each start (tests and field mode pass theirs)."""
    return Journey(
        key=KEY,
        home_target="home.certify",
        screens=(ScreenName.CERTIFY, ScreenName.CAPTURE, ScreenName.RECEIPT),
        start=lambda ctx: CertifySteps(ctx, kit()),
        has_fn=_offered,
    )


CERTIFY = certify_journey()
