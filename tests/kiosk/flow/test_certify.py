"""The hall certification journey as a step machine, with fakes for the camera, the liveness
check and the edge (the check itself is tested with real dlib in tests/drivers/face)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from common import signing
from drivers.camera.interface import Frame
from drivers.face.interface import FaceTemplate
from kiosk.edge.certification import CertificationReceipt, CertificationStatus
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.flow import Action, KioskFlow, Msg, ScreenName, Tap
from kiosk.flow.certify_kit import CAPABILITIES, CertifyKit, capabilities_of
from kiosk.flow.certify_worker import (
    CAMERA_UNAVAILABLE,
    HINT_HOLD_S,
    CaptureProgress,
    CaptureRun,
)
from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.journeys.certify import (
    FAILURE_WORDS,
    NOT_COMPLETED,
    CaptureView,
    CertifyInfo,
    CertifySteps,
    certify_journey,
    failure_words,
)
from kiosk.flow.journeys.steps import Receipted
from kiosk.i18n import catalog
from tests.kiosk.fakes import AS_OF, ManualClock, ManualTasks, ScriptedEdge, sample_card
from tests.kiosk.flow.test_core import CONFIG

CITIZEN_ID = "11010519491231002X"
TEMPLATE = tuple(0.01 * (i % 17) for i in range(128))
CHALLENGES = ("nod", "blink", "turn-left")
CERTIFIED_AT = dt.datetime(2026, 11, 22, 2, 5, tzinfo=dt.UTC)


def status(state: str = "due", **extra: Any) -> CertificationStatus:
    body: dict[str, Any] = {
        "status": state, "citizen_id": CITIZEN_ID, "due_date": "2026-12-31",
        "cycle_months": 12, "explanation": "您本年度的资格认证已到期，请在12月31日前办理。",
        "template": list(TEMPLATE) if state == "due" else None, "as_of": AS_OF.isoformat(),
    }
    body.update(extra)
    return CertificationStatus.model_validate(body)


def receipt(state: str = "queued") -> CertificationReceipt:
    no = "R20261122CERT000001"
    return CertificationReceipt.model_validate({
        "certification_id": "c-1", "receipt_no": no, "qr": f"hrss:receipt:{no}",
        "kind": "pension-certification", "state": state, "submitted_at": AS_OF.isoformat(),
        "sent_at": AS_OF.isoformat() if state == "sent" else None,
        "certified_at": CERTIFIED_AT.isoformat(), "certification_no": None,
        "next_due_date": "2027-11-22",
    })


@dataclass
class CertifyEdge(ScriptedEdge):
    status_script: list[Any] = field(default_factory=lambda: [status()])
    submit_script: list[Any] = field(default_factory=lambda: [receipt()])
    status_calls: list[str] = field(default_factory=list)
    submit_calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def get_certification(self, session_id: str) -> CertificationStatus:
        self.status_calls.append(session_id)
        return self._next(self.status_script)  # type: ignore[no-any-return]

    def submit_certification(self, session_id: str, body: dict[str, Any], *,
                             idempotency_key: str) -> CertificationReceipt:
        self.submit_calls.append((session_id, body, idempotency_key))
        return self._next(self.submit_script)  # type: ignore[no-any-return]


class FakeCamera:
    """Frames on demand; `blocked` makes next_frame wait like a camera with nothing new."""

    def __init__(self, clock: FakeMonotonic | None = None) -> None:
        self.sequence = -1
        self.pixels = np.zeros((48, 64, 3), dtype=np.uint8)
        self.blocked = False
        self.dead = False
        self.clock = clock
        self.waiting = threading.Event()

    def latest_frame(self) -> Frame | None:
        return None if self.sequence < 0 else Frame(self.pixels, self.sequence, 0.0)

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        if self.dead:
            if self.clock is not None:
                self.clock.now += timeout_s
            return None
        if self.blocked:
            self.waiting.set()
            threading.Event().wait(timeout_s)  # a real camera's wait for its next frame
            return None
        self.sequence += 1
        return Frame(self.pixels, self.sequence, self.sequence / 15)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class P:
    """A LivenessProgress as the check reports it."""

    state: str
    current: str | None = None
    step: int = 0
    count: int = 3
    reason: str | None = None
    hint: str | None = None


@dataclass
class R:
    passed: bool
    reason: str | None
    evidence: object = None


@dataclass(repr=False)
class FakeEvidence:
    version: str = "liveness-test-1"


class FakeCheck:
    """Replays progress, one entry per frame fed; the last one repeats."""

    def __init__(self, script: list[P], result: R) -> None:
        self.script = list(script)
        self._result = result
        self.fed = 0
        self.aborted: str | None = None

    def feed(self, frame: Frame) -> P:
        self.fed += 1
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def result(self) -> R:
        return self._result

    def abort(self, reason: str = "timeout") -> None:
        self.aborted = reason


def passing_script() -> list[P]:
    return [P("baseline"), P("baseline"), P("challenge", "nod", 0), P("challenge", "nod", 0),
            P("challenge", "blink", 1), P("challenge", "turn-left", 2), P("passed", step=2)]


def failing(reason: str) -> tuple[list[P], R]:
    return [P("baseline"), P("challenge", "nod", 0), P("failed", reason=reason)], R(False, reason)


@pytest.fixture(scope="module")
def device_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    path = Path(tmp_path_factory.mktemp("key")) / "kiosk.signing-key.pem"
    public = signing.generate_device_key(path)
    return signing.load_device_key(path), public


class CertifyKiosk:
    """The flow with the certify journey, a fake camera and scripted checks."""

    def __init__(self, device_key: tuple[Any, str], edge: CertifyEdge | None = None,
                 checks: list[tuple[list[P], R]] | None = None) -> None:
        key, self.public_key = device_key
        self.edge = edge or CertifyEdge()
        self.clock = ManualClock()
        self.tasks = ManualTasks()
        self.monotonic = FakeMonotonic()
        self.camera = FakeCamera(self.monotonic)
        self.checks = list(checks or [(passing_script(), R(True, None, FakeEvidence()))])
        self.made: list[FakeCheck] = []
        self.prepared: list[tuple[FaceTemplate, tuple[str, ...]]] = []
        self.announced: list[str] = []
        self.kit = CertifyKit(
            camera=self.camera, prepare=self._prepare, draw=lambda _rng: CHALLENGES,
            evidence_json=lambda ev: {"version": ev.version, "frames": ["base64-jpeg"]},
            evidence_sha256=signing.evidence_sha256,
            sign=lambda payload: signing.sign(key, payload), device_id="kiosk-hall-01",
            location="东城区政务服务中心", announce=self.announced.append,
            now=lambda: CERTIFIED_AT, no_frames_s=3.0, monotonic=self.monotonic,
        )
        journeys = (*(j for j in JOURNEYS if j.key != "certify"),
                    certify_journey(lambda: self.kit))
        self.flow = KioskFlow(self.edge, self.tasks, self.clock, CONFIG, journeys=journeys,
                              capabilities=capabilities_of(self.kit))
        from drivers.card.fake import FakeCardReader

        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)

    def _prepare(self, template: FaceTemplate, challenges: tuple[str, ...]) -> FakeCheck:
        self.prepared.append((template, challenges))
        script, result = self.checks.pop(0) if len(self.checks) > 1 else self.checks[0]
        check = FakeCheck(script, result)
        self.made.append(check)
        return check

    @property
    def screen(self) -> ScreenName:
        return self.flow.view.screen

    @property
    def data(self) -> object:
        content = self.flow.view.content
        return content.data if content is not None else None

    def tap(self, action: Action) -> None:
        self.flow.handle(Tap(action))

    def start(self) -> None:
        self.reader.insert(sample_card())
        self.tasks.run_all()
        assert self.screen is ScreenName.HOME and "certify" in self.flow.view.journeys
        self.flow.handle(Tap(Action.START_JOURNEY, "certify"))

    def at_due(self) -> None:
        self.start()
        assert self.screen is ScreenName.LOADING
        self.tasks.run_all()
        assert self.screen is ScreenName.CERTIFY

    def captured(self) -> Iterator[object]:
        """Run the capture's jobs one by one, yielding what is shown after each."""
        while self.tasks.queue:
            self.tasks.run_next()
            yield self.data

    @property
    def steps(self) -> CertifySteps:
        active = self.flow._active
        assert active is not None
        steps = active.steps
        assert isinstance(steps, CertifySteps)
        return steps


@pytest.fixture
def kiosk(device_key: tuple[Any, str]) -> CertifyKiosk:
    return CertifyKiosk(device_key)


# Offered, explained -------------------------------------------------------------------------

def test_it_is_offered_only_where_there_is_a_camera_and_a_face_engine(
        device_key: tuple[Any, str]) -> None:
    kiosk = CertifyKiosk(device_key)
    kiosk.start()
    assert capabilities_of(None) == frozenset() and capabilities_of(kiosk.kit) == CAPABILITIES
    bare = KioskFlow(ScriptedEdge(), ManualTasks(), ManualClock(), CONFIG,
                     journeys=(certify_journey(lambda: kiosk.kit),))
    assert bare._offered == ()


@pytest.mark.parametrize("state", ["done", "not-due", "not-pensioner", "deceased"])
def test_not_due_is_explained_in_plain_words_and_back_goes_home(
        device_key: tuple[Any, str], state: str) -> None:
    kiosk = CertifyKiosk(device_key, CertifyEdge(status_script=[status(state)]))
    kiosk.at_due()
    info = kiosk.data
    assert isinstance(info, CertifyInfo) and info.state == state
    assert not info.may_start and info.explanation.startswith("您本年度")
    assert f"{info.words}.title" in catalog("zh_CN")
    kiosk.tap(Action.NEXT)  # nothing to start
    assert kiosk.screen is ScreenName.CERTIFY and kiosk.tasks.queue == []
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.HOME and kiosk.flow._active is None


def test_already_pending_at_the_edge_is_not_certified_again(kiosk: CertifyKiosk) -> None:
    kiosk.edge.status_script[:] = [status(pending=True)]
    kiosk.at_due()
    info = kiosk.data
    assert isinstance(info, CertifyInfo) and info.state == "pending" and not info.may_start


def test_no_template_sends_the_citizen_to_the_counter(kiosk: CertifyKiosk) -> None:
    kiosk.edge.status_script[:] = [status(template=None)]
    kiosk.at_due()
    info = kiosk.data
    assert isinstance(info, CertifyInfo) and info.state == "no-photo" and not info.may_start


def test_an_unreachable_edge_takes_the_service_unavailable_path(kiosk: CertifyKiosk) -> None:
    kiosk.edge.status_script[:] = [EdgeUnreachable("down")]
    kiosk.start()
    kiosk.tasks.run_all()
    notice = kiosk.flow.view.notice
    assert kiosk.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == Msg.EDGE_UNREACHABLE and notice.retrying
    assert kiosk.prepared == []  # the face models were never asked for


# Passing -----------------------------------------------------------------------------------

def test_a_live_pass_is_signed_submitted_and_receipted(kiosk: CertifyKiosk) -> None:
    kiosk.at_due()
    info = kiosk.data
    assert isinstance(info, CertifyInfo) and info.may_start
    assert info.due_date == dt.date(2026, 12, 31)
    assert kiosk.prepared == []  # models load only once the citizen starts
    kiosk.tap(Action.NEXT)
    preparing = kiosk.data
    assert kiosk.screen is ScreenName.CAPTURE and isinstance(preparing, CaptureView)
    assert preparing.phase == "preparing" and (preparing.attempt, preparing.attempts) == (1, 3)

    shown = list(kiosk.captured())
    views = [v for v in shown if isinstance(v, CaptureView)]
    assert views[0].phase == "capturing"
    assert [(v.progress.state, v.progress.current, v.progress.step) for v in views[1:]] == [
        ("challenge", "nod", 0), ("challenge", "blink", 1), ("challenge", "turn-left", 2)]
    assert kiosk.announced == list(CHALLENGES)  # each spoken once, in order
    ((template, challenges),) = kiosk.prepared
    assert template.values == TEMPLATE and challenges == CHALLENGES

    assert kiosk.screen is ScreenName.RECEIPT
    data = kiosk.data
    assert isinstance(data, Receipted) and data.receipt.state == "queued"
    ((session_id, body, key),) = kiosk.edge.submit_calls
    assert session_id == "ses_0001" and key
    record = body["record"]
    assert record["citizen_id"] == CITIZEN_ID and record["device_id"] == "kiosk-hall-01"
    assert record["method"] == "hall" and record["staff_id"] is None
    assert record["result"] == "passed" and record["liveness_version"] == "liveness-test-1"
    assert record["certified_at"] == "2026-11-22T02:05:00Z"
    assert record["evidence_sha256"] == signing.evidence_sha256(body["evidence"])
    assert signing.verify(kiosk.public_key, record, record["signature"])
    tampered = {**record, "citizen_id": "110105194912310011"}
    assert not signing.verify(kiosk.public_key, tampered, record["signature"])
    # The template and the evidence are gone once it is sent.
    assert kiosk.steps._template is None and kiosk.steps._body is None
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.HOME


def test_a_submission_retried_sends_the_same_record_with_the_same_key(
        kiosk: CertifyKiosk) -> None:
    kiosk.edge.submit_script[:] = [EdgeUnreachable("blip"), receipt("sent")]
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    assert kiosk.screen is ScreenName.MESSAGE  # "retrying by itself"
    kiosk.clock.advance(2)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.RECEIPT
    first, second = kiosk.edge.submit_calls
    assert first[2] == second[2] and first[1] == second[1]  # same key, byte-same record


def test_nothing_biometric_is_in_a_repr(kiosk: CertifyKiosk) -> None:
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_next()
    text = repr(kiosk.flow.view) + repr(kiosk.data) + repr(kiosk.steps) + repr(status())
    text += repr(kiosk.kit) + repr(kiosk.flow._active) + str(status())
    assert "(0.0, 0.01" not in text and "[0.0, 0.01" not in text and CITIZEN_ID not in text
    assert "0.16" not in text


# Failing -----------------------------------------------------------------------------------

REASONS = ["no-face", "two-faces", "too-dark", "timeout", "poor-quality", "still-photo",
           "flat-photo", "wrong-action", "not-same-person", "face-changed", "incomplete"]


@pytest.mark.parametrize("reason", REASONS)
def test_each_failure_has_its_plain_words_and_a_retry(device_key: tuple[Any, str],
                                                      reason: str) -> None:
    kiosk = CertifyKiosk(device_key, checks=[failing(reason)])
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    info = kiosk.data
    assert kiosk.screen is ScreenName.CERTIFY and isinstance(info, CertifyInfo)
    assert info.state == "failed" and info.reason == reason
    assert info.may_retry and info.attempts_left == 2
    zh = catalog("zh_CN")
    assert f"{info.words}.title" in zh and f"{info.words}.body" in zh
    if reason in ("still-photo", "flat-photo", "wrong-action", "not-same-person"):
        # Never an accusation: the same neutral words for every suspected spoof.
        assert info.words == "certify.reason.not-completed"
        assert zh["certify.reason.not-completed.title"] == "未能完成认证"
        assert zh["certify.reason.not-completed.body"] == "请到服务窗口办理。"
    assert kiosk.edge.submit_calls == []


def test_the_failure_words_are_the_ones_asked_for() -> None:
    zh = catalog("zh_CN")
    assert zh["certify.reason.no-face.body"] == "没有看到您的脸，请正对屏幕。"
    assert zh["certify.reason.two-faces.body"] == "请只让一位老人站在屏幕前。"
    assert failure_words("something-new") == NOT_COMPLETED
    for words in (*FAILURE_WORDS.values(), NOT_COMPLETED):
        assert f"certify.reason.{words}.title" in zh


def test_two_retries_then_only_the_counter(device_key: tuple[Any, str]) -> None:
    kiosk = CertifyKiosk(device_key, checks=[failing("timeout")])
    kiosk.at_due()
    lefts = []
    for _ in range(3):
        kiosk.tap(Action.NEXT)
        list(kiosk.captured())
        info = kiosk.data
        assert isinstance(info, CertifyInfo) and info.state == "failed"
        lefts.append(info.attempts_left)
    assert lefts == [2, 1, 0] and len(kiosk.prepared) == 3
    assert not kiosk.data.may_retry  # type: ignore[union-attr]
    kiosk.tap(Action.NEXT)  # no fourth try
    assert kiosk.screen is ScreenName.CERTIFY and len(kiosk.prepared) == 3
    kiosk.tap(Action.DONE)  # "去服务窗口办理"
    assert kiosk.screen is ScreenName.HOME and kiosk.flow._active is None


def test_a_retry_can_pass(device_key: tuple[Any, str]) -> None:
    kiosk = CertifyKiosk(device_key, checks=[
        failing("no-face"), (passing_script(), R(True, None, FakeEvidence()))])
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    assert kiosk.screen is ScreenName.RECEIPT and len(kiosk.edge.submit_calls) == 1


def test_a_camera_without_frames_ends_the_attempt_for_good(kiosk: CertifyKiosk) -> None:
    kiosk.camera.dead = True
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    info = kiosk.data
    assert isinstance(info, CertifyInfo) and info.reason == CAMERA_UNAVAILABLE
    assert not info.may_retry and kiosk.made[0].aborted == "timeout"


@pytest.mark.parametrize(("code", "reason", "state", "retry"), [
    ("judgement-failed", "flat-photo", "failed", True),
    ("record-mismatch", "", "failed", False),
    ("certification-not-due", "", "done", False),
    ("certification-pending", "", "pending", False),
])
def test_the_edges_refusals(device_key: tuple[Any, str], code: str, reason: str, state: str,
                            retry: bool) -> None:
    problem = EdgeProblem(code, 409 if code == "certification-pending" else 422,
                          extra={"reason": reason} if reason else None)
    kiosk = CertifyKiosk(device_key, CertifyEdge(submit_script=[problem]))
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    info = kiosk.data
    assert kiosk.screen is ScreenName.CERTIFY and isinstance(info, CertifyInfo)
    assert info.state == state and info.may_retry is retry
    if state == "failed":
        assert info.words == "certify.reason.not-completed"  # the judge's word is not shown


# The card pulled, the session ended -------------------------------------------------------

def test_a_card_pulled_mid_capture_ends_the_journey_and_stops_the_worker(
        kiosk: CertifyKiosk) -> None:
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_next()  # prepared: the first segment is queued
    kiosk.camera.blocked = True
    job, done = kiosk.tasks.queue.pop(0)
    answers: list[object] = []
    worker = threading.Thread(target=lambda: answers.append(job()), daemon=True)
    worker.start()
    assert kiosk.camera.waiting.wait(5), "the worker never asked the camera for a frame"
    kiosk.reader.remove()
    worker.join(2.0)  # stop() is seen within one frame wait (0.25 s)
    assert not worker.is_alive(), "the capture worker did not stop"
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None
    (progress,) = answers
    assert isinstance(progress, CaptureProgress) and progress.reason == "stopped"
    from kiosk.flow.ports import Outcome

    done(Outcome(value=progress))  # the late answer is stale: nothing changes
    assert kiosk.screen is ScreenName.ATTRACT
    kiosk.tasks.run_all()
    assert kiosk.edge.end_calls and kiosk.edge.submit_calls == []


def test_ending_the_session_mid_capture_stops_the_run(kiosk: CertifyKiosk) -> None:
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_next()
    run = kiosk.steps._run
    assert run is not None
    kiosk.tap(Action.END)
    assert run.stopped and kiosk.screen is ScreenName.ENDING


# The worker on its own ----------------------------------------------------------------------

def test_a_flickering_hint_changes_the_screen_at_most_every_hold_period() -> None:
    clock = FakeMonotonic()
    camera = FakeCamera()
    frames = 150  # 10 s of camera at 15 fps, the hint flipping on every frame
    script = [P("baseline", hint="move-closer" if i % 2 else None) for i in range(frames)]
    check = FakeCheck([*script, P("failed", reason="timeout")], R(False, "timeout"))
    real_next = camera.next_frame

    def next_frame(after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        clock.now += 1 / 15
        return real_next(after, timeout_s)

    camera.next_frame = next_frame  # type: ignore[method-assign]
    run = CaptureRun(camera, check, count=3, clock=clock, attempt_timeout_s=60)
    changes = []
    while not (progress := run.advance()).finished:
        changes.append((clock.now, progress.hint))
    assert changes, "a hint was never shown"
    assert changes[0][0] >= HINT_HOLD_S  # not on the first flicker
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(changes)]
    assert all(gap >= HINT_HOLD_S - 1e-9 for gap in gaps)
    assert len(changes) <= frames / 15 / HINT_HOLD_S + 1


def test_the_preview_stops_with_the_run() -> None:
    camera = FakeCamera()
    run = CaptureRun(camera, FakeCheck([P("baseline")], R(False, None)), count=3)
    camera.sequence = 4
    frame = run.latest_frame()
    assert frame is not None and frame.sequence == 4
    run.stop()
    assert run.latest_frame() is None


# The edge client's two calls, against a stub edge over real HTTP ----------------------------

@pytest.fixture
def stub_edge() -> Iterator[Any]:
    from tests.kiosk.edge.fake_edge import FakeEdge

    server = FakeEdge()
    yield server
    server.close()


def test_the_client_reads_the_status_and_checks_the_template(stub_edge: Any) -> None:
    from kiosk.edge.client import EdgeClient
    from tests.kiosk.edge.fake_edge import Answer

    client = EdgeClient(stub_edge.url, "kiosk-001", "dev1.kiosk-001.c2ln", deadline_s=2.0)
    try:
        stub_edge.script = [Answer(200, status().model_dump(mode="json"))]
        read = client.get_certification("ses_abc")
        assert stub_edge.seen[0].path == "/api/v1/sessions/ses_abc/certification"
        template = read.face_template()
        assert read.status == "due" and template is not None and template.values == TEMPLATE
        bad = status().model_dump(mode="json")
        bad["template"] = [0.1] * 127  # not a template: not an answer
        stub_edge.script = [Answer(200, bad)]
        with pytest.raises(EdgeProblem):
            client.get_certification("ses_abc")
    finally:
        client.close()


def test_the_client_posts_with_the_key_and_reads_a_refusal(stub_edge: Any) -> None:
    from kiosk.edge.client import EdgeClient
    from tests.kiosk.edge.fake_edge import Answer, problem

    client = EdgeClient(stub_edge.url, "kiosk-001", "dev1.kiosk-001.c2ln", deadline_s=2.0)
    body = {"evidence": {"version": "v"}, "record": {"citizen_id": CITIZEN_ID}}
    try:
        stub_edge.script = [Answer(201, receipt().model_dump(mode="json"))]
        answer = client.submit_certification("ses_abc", body, idempotency_key="key-1")
        assert answer.next_due_date == dt.date(2027, 11, 22)
        seen = stub_edge.seen[0]
        assert (seen.method, seen.path) == ("POST", "/api/v1/sessions/ses_abc/certifications")
        assert seen.body == body and seen.headers["Idempotency-Key"] == "key-1"
        stub_edge.script = [problem(422, "judgement-failed", reason="flat-photo")]
        with pytest.raises(EdgeProblem) as caught:
            client.submit_certification("ses_abc", body, idempotency_key="key-2")
        assert caught.value.code == "judgement-failed"
        assert caught.value.extra["reason"] == "flat-photo"
    finally:
        client.close()


# The kit from the terminal's settings and peripherals ----------------------------------------

class _Device:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> Any:
        from drivers.base import Health, HealthState

        return Health(HealthState.OK, "ok")

    def subscribe(self, observer: Any) -> Any:
        return lambda: None


class _Camera(_Device):
    def latest_frame(self) -> Frame | None:
        return None

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        return None


class _Engine(_Device):
    def __init__(self) -> None:
        super().__init__("face")
        self.loads = 0

    def load(self) -> None:
        self.loads += 1


def test_the_kit_needs_a_camera_a_face_engine_and_the_device_key(tmp_path: Path) -> None:
    from drivers.registry import Impl, PeripheralKind
    from kiosk.certify_kit import kit_from
    from kiosk.i18n import Translator
    from kiosk.peripherals import Peripheral, Peripherals
    from kiosk.settings import KioskSettings
    from kiosk.voice import SilentVoice

    key_file = tmp_path / "kiosk.signing-key.pem"
    public = signing.generate_device_key(key_file)
    settings = KioskSettings(device_key_file=key_file, location="东城大厅")
    engine = _Engine()
    both = Peripherals([Peripheral(PeripheralKind.CAMERA, Impl.REAL, _Camera("camera")),
                        Peripheral(PeripheralKind.FACE, Impl.REAL, engine)])
    assert kit_from(settings, Peripherals([]), SilentVoice(), Translator()) is None
    assert kit_from(KioskSettings(device_key_file=tmp_path / "none.pem"), both, SilentVoice(),
                    Translator()) is None
    kit = kit_from(settings, both, SilentVoice(), Translator())
    assert kit is not None and kit.location == "东城大厅" and kit.method == "hall"
    assert engine.loads == 0  # the models load when a citizen starts, not here
    payload = {"a": 1}
    assert signing.verify(public, payload, kit.sign(payload))
    challenges = kit.draw(random.Random(1))
    assert len(challenges) == 3 and challenges != ("blink",)


def test_the_camera_gets_its_source_from_the_settings() -> None:
    from drivers.registry import PeripheralKind, Registry
    from kiosk.peripherals import build_peripherals
    from kiosk.settings import KioskSettings

    seen: dict[str, Any] = {}

    def camera(**options: Any) -> Any:
        seen.update(options)
        return _Camera("camera")

    import sys
    import types

    module = types.ModuleType("_kiosk_test_camera")
    module.camera = camera  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        registry = Registry({(PeripheralKind.CAMERA, "simulated"): "_kiosk_test_camera:camera"})
        for source, expected in (("0", 0), ("http://127.0.0.1:8710/stream.mjpg",
                                            "http://127.0.0.1:8710/stream.mjpg")):
            seen.clear()
            settings = KioskSettings(camera_source=source,
                                     peripherals={"camera": "simulated", "card": "absent"})
            build_peripherals(settings, registry)
            assert seen == {"source": expected}
    finally:
        del sys.modules[module.__name__]


def test_a_face_engine_that_cannot_load_sends_the_citizen_to_the_counter(
        kiosk: CertifyKiosk) -> None:
    from drivers.face.interface import FaceEngineUnavailable

    def broken(_template: FaceTemplate, _challenges: tuple[str, ...]) -> Any:
        raise FaceEngineUnavailable("models missing")

    kiosk.kit = dataclasses.replace(kiosk.kit, prepare=broken)
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_all()
    info = kiosk.data
    assert kiosk.screen is ScreenName.CERTIFY and isinstance(info, CertifyInfo)
    assert info.words == "certify.reason.engine-unavailable" and not info.may_retry


def test_the_client_has_the_field_edges_calls(stub_edge: Any) -> None:
    from kiosk.edge.client import EdgeClient
    from tests.kiosk.edge.fake_edge import Answer
    from tests.kiosk.fakes import sample_opened

    client = EdgeClient(stub_edge.url, "kiosk-001", "dev1.kiosk-001.c2ln", deadline_s=2.0)
    trip = {"trip_id": "t-1", "village": "110105001", "entries": 12, "as_of": AS_OF.isoformat(),
            "prepared_at": AS_OF.isoformat(), "expires_at": AS_OF.isoformat()}
    try:
        stub_edge.script = [Answer(201, trip), Answer(200, {"waiting": 4, "last_sync_at": None}),
                            Answer(201, sample_opened().model_dump(mode="json"))]
        assert client.prepare_trip("110105001").entries == 12
        assert client.field_queue().waiting == 4
        opened = client.open_by_id_number(CITIZEN_ID, idempotency_key="k-9")
        assert opened.session_id == "ses_0001"
        trips, queue, session = stub_edge.seen
        assert (trips.method, trips.path, trips.body) == (
            "POST", "/api/v1/field/trips", {"village": "110105001"})
        assert (queue.method, queue.path) == ("GET", "/api/v1/field/queue")
        assert session.body == {"method": "id-number", "citizen_id": CITIZEN_ID}
        assert session.headers["Idempotency-Key"] == "k-9"
    finally:
        client.close()


def test_a_field_kit_signs_the_staff_member_into_the_record(kiosk: CertifyKiosk) -> None:
    kiosk.kit = dataclasses.replace(kiosk.kit, method="field", staff_id=lambda: "S-1001")
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    ((_sid, body, _key),) = kiosk.edge.submit_calls
    record = body["record"]
    assert (record["method"], record["staff_id"]) == ("field", "S-1001")
    assert signing.verify(kiosk.public_key, record, record["signature"])


def test_a_check_that_breaks_mid_attempt_ends_it_plainly(kiosk: CertifyKiosk) -> None:
    class Broken(FakeCheck):
        def feed(self, frame: Frame) -> P:
            if self.fed >= 2:
                raise RuntimeError("dlib crashed")
            return super().feed(frame)

    kiosk.kit = dataclasses.replace(
        kiosk.kit, prepare=lambda _t, _c: Broken(passing_script(), R(True, None)))
    kiosk.at_due()
    kiosk.tap(Action.NEXT)
    list(kiosk.captured())
    info = kiosk.data
    assert kiosk.screen is ScreenName.CERTIFY and isinstance(info, CertifyInfo)
    assert info.words == "certify.reason.engine-unavailable" and not info.may_retry


# The kiosk's models against the edge's own OpenAPI (the two sides are written apart) ----------

@pytest.fixture(scope="module")
def edge_openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from edge_server.main import create_app
    from edge_server.settings import EdgeSettings

    tmp = tmp_path_factory.mktemp("edge")
    return create_app(EdgeSettings(
        database_url=f"sqlite:///{tmp / 'edge.db'}", hall_secret="contract",
        central_api_key="k", data_key_file=tmp / "data.key")).openapi()


@pytest.mark.parametrize(("model", "method", "path", "status_code"), [
    (CertificationStatus, "get", "/api/v1/sessions/{session_id}/certification", "200"),
    (CertificationReceipt, "post", "/api/v1/sessions/{session_id}/certifications", "201"),
])
def test_the_certification_models_match_the_edges_answers(
        edge_openapi: dict[str, Any], model: Any, method: str, path: str,
        status_code: str) -> None:
    from tests.contracts.test_kiosk_edge_contract import _mismatches, _response_schema

    spec = edge_openapi
    schema = _response_schema(spec, method, path, status_code)
    # The shared receipt's own optional fields (an application's number, a pre-check's
    # findings) are not a certification's: the edge may leave them out.
    optional = {f"{model.__name__}.{name}: the edge does not send it"
                for name in ("application_no", "findings")}
    assert set(_mismatches(spec, model, schema, model.__name__)) - optional == set()


def test_the_device_key_sits_where_provisioning_puts_it(tmp_path: Path) -> None:
    from kiosk.settings import KioskSettings
    from provisioning.device_keys import key_path

    device_file = tmp_path / "kiosk-07.toml"
    device_file.write_text('[device]\ndevice_id = "kiosk-07"\n')
    settings = KioskSettings.load(device_file)
    assert settings.resolved_device_key_file() == key_path(device_file)
    chosen = tmp_path / "elsewhere.pem"
    assert KioskSettings.load(device_file, device_key_file=chosen).resolved_device_key_file() \
        == chosen
