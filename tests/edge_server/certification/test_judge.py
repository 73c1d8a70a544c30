"""The edge's second judgement with the real face engine (dlib) on evidence made from the
simulated camera's personas: the live person passes, an impostor and a moved photo do not;
malformed evidence is InvalidEvidence; the pool of engines bounds concurrent judgements."""

import threading

import pytest

from edge_server.certification import judge
from simulators.central.certification import enrolment_template
from tests.edge_server.certification.support import evidence, persona_evidence


@pytest.fixture(scope="module")
def template() -> tuple[float, ...]:
    return enrolment_template("a")


@pytest.fixture(scope="module")
def real() -> judge.Judge:
    return judge.Judge(1, 30.0)  # one engine for the module: its models load once


def test_the_live_person_passes(real, template):
    verdict = real(template, persona_evidence("live"))
    assert verdict.passed and verdict.reason is None
    assert verdict.distances["baseline"] < 0.6


@pytest.mark.parametrize("persona, reasons", [
    ("impostor", {"not-same-person"}),
    ("photo-moved", {"action-not-shown", "flat-photo"}),
])
def test_attacks_fail_with_their_reason(real, template, persona, reasons):
    verdict = real(template, persona_evidence(persona))
    assert not verdict.passed and verdict.reason in reasons


def test_someone_elses_template_fails(real):
    other = enrolment_template("b")
    verdict = real(other, persona_evidence("live"))
    assert not verdict.passed and verdict.reason == "not-same-person"


def test_evidence_the_kiosk_did_not_pass_fails(real, template):
    document = {**persona_evidence("live"), "passed": False, "reason": "timeout"}
    verdict = real(template, document)
    assert not verdict.passed and verdict.reason == "not-passed"


@pytest.mark.parametrize("change", [
    {"version": "other"}, {"frames": "x"}, {"challenges": []}, {"unknown": 1},
])
def test_malformed_evidence_is_invalid(real, template, change):
    with pytest.raises(judge.InvalidEvidence):
        real(template, {**persona_evidence("live"), **change})


def test_a_frame_that_is_no_jpeg_is_invalid_or_a_bad_frame(real, template):
    # The shape is right but the bytes are no image: the parser or the judge refuses it.
    try:
        verdict = real(template, evidence())
    except judge.InvalidEvidence:
        return
    assert not verdict.passed


def test_judgements_beyond_the_pool_wait_then_are_busy():
    started, release = threading.Event(), threading.Event()

    def slow(_template, _document, _engine) -> judge.Verdict:
        started.set()
        release.wait(5)
        return judge.Verdict(True, None)

    pool = judge.Judge(1, 0.2, new_engine=object)
    with judge.use(slow):
        worker = threading.Thread(target=pool, args=((0.0,) * 128, {}))
        worker.start()
        assert started.wait(5)
        with pytest.raises(judge.JudgeBusy):
            pool((0.0,) * 128, {})
        release.set()
        worker.join(5)
        assert pool((0.0,) * 128, {}).passed  # a slot is free again


def test_an_engine_that_cannot_load_is_unavailable(template):
    def broken() -> object:
        raise judge.JudgeUnavailable("no models")

    with pytest.raises(judge.JudgeUnavailable):
        judge.Judge(1, 1.0, new_engine=broken)(template, persona_evidence("live"))


def test_an_enrolled_template_out_of_range_fails_the_judgement_not_the_server(real):
    verdict = real((9.0,) * 128, persona_evidence("live"))
    assert not verdict.passed and verdict.reason == "bad-template"
