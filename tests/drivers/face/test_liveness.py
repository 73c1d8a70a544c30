"""LivenessCheck on scripted 68-point sequences through a fake landmark model: fast and
deterministic (the real engine and personas are in test_liveness_personas.py)."""

from __future__ import annotations

import random

import pytest

from drivers.face.evidence import CHALLENGE_NAMES
from drivers.face.liveness import CHALLENGES, LivenessCheck, LivenessResult, draw_challenges
from tests.drivers.face.synthetic import (
    FakeFaceModel,
    Person,
    Photo,
    Replay,
    Script,
    Seen,
    frame,
    pose,
    run,
    template_of,
)

ASKED = ("turn-left", "nod", "open-mouth")


def attempt(script: Script, challenges: tuple[str, ...] = ASKED, *, person: str = "a",
            light: int = 0, step_timeout_s: float = 6.0) -> tuple[LivenessResult, FakeFaceModel]:
    model = FakeFaceModel()
    check = LivenessCheck(model, template_of(person), challenges, landmark_model=model,
                          step_timeout_s=step_timeout_s)
    result = run(check, model, script, light=light)
    assert isinstance(result, LivenessResult)
    return result, model


def test_draw_challenges_is_random_without_repeats_and_blink_never_alone() -> None:
    draws = [draw_challenges(random.Random(seed)) for seed in range(200)]
    assert all(len(d) == 3 == len(set(d)) and set(d) <= set(CHALLENGES) for d in draws)
    assert len(set(draws)) > 30  # randomised, seeds differ
    assert CHALLENGES == CHALLENGE_NAMES  # the wire form knows the same names
    assert draws[0] == draw_challenges(random.Random(0))  # deterministic per seed
    assert {c for d in draws for c in d} == set(CHALLENGES)
    singles = {draw_challenges(random.Random(seed), 1) for seed in range(100)}
    assert ("blink",) not in singles and len(singles) > 1
    pairs = {draw_challenges(random.Random(seed), 2) for seed in range(300)}
    assert ("blink",) not in pairs
    with pytest.raises(ValueError):
        draw_challenges(random.Random(0), 0)
    with pytest.raises(ValueError):
        LivenessCheck(FakeFaceModel(), template_of("a"), ("blink",))
    with pytest.raises(ValueError):
        LivenessCheck(FakeFaceModel(), template_of("a"), ("nod", "nod"))
    with pytest.raises(ValueError):
        LivenessCheck(FakeFaceModel(), template_of("a"), ("smile",))


@pytest.mark.parametrize("challenges", [ASKED, ("blink", "turn-right", "open-mouth"),
                                        ("turn-right", "turn-left", "nod", "blink", "open-mouth")])
def test_a_live_person_passes(challenges: tuple[str, ...]) -> None:
    result, model = attempt(Person(), challenges)
    assert result.passed and result.reason is None
    evidence = result.evidence
    assert [s.action for s in evidence.steps] == list(challenges)
    assert all(s.passed and s.score >= 1.0 and 0 < s.took_s < 6 for s in evidence.steps)
    assert [f.role for f in evidence.frames] == ["baseline", *challenges]
    assert all(f.jpeg[:3] == b"\xff\xd8\xff" for f in evidence.frames)
    assert model.encodes == len(challenges) + 1  # chosen frames only
    assert evidence.timings["encodes"] == len(challenges) + 1
    assert evidence.models["liveness"] == evidence.version


def test_progress_tells_what_to_ask() -> None:
    model = FakeFaceModel()
    check = LivenessCheck(model, template_of("a"), ASKED, landmark_model=model)
    assert check.progress.state == "baseline" and check.progress.current is None
    assert not check.result().passed and check.result().reason == "incomplete"
    person, seen = Person(), []
    t, sequence = 0.0, 0
    while not check.done:
        model.seen[sequence] = person(t, check.progress.current)
        progress = check.feed(frame(sequence, t))
        seen.append((progress.state, progress.current, progress.step, progress.hint))
        sequence += 1
        t = sequence / 15
    states = [s for s, *_ in seen]
    assert states[0] == "baseline" and states[-1] == "passed"
    assert all(progress_hint is None for _, _, _, progress_hint in seen)
    asked = [c for s, c, *_ in seen if s == "challenge"]
    assert [i for s, _, i, _ in seen if s == "challenge"] == sorted(
        i for s, _, i, _ in seen if s == "challenge")
    assert list(dict.fromkeys(asked)) == list(ASKED)
    assert check.feed(frame(sequence, t)).state == "passed"  # done stays done


def test_a_person_who_does_nothing_times_out() -> None:
    result, _ = attempt(Person(obeys=False, wobble_deg=5), step_timeout_s=3.0)
    assert not result.passed and result.reason == "timeout"
    assert result.evidence.steps[-1].passed is False
    assert result.evidence.steps[-1].took_s >= 3.0


def test_a_still_photo_fails_still_photo() -> None:
    result, _ = attempt(Photo(), step_timeout_s=3.0)
    assert result.reason == "still-photo"


def test_a_photo_tilted_when_asked_fails_flat_photo() -> None:
    result, _ = attempt(Photo(moved=True), ("turn-right", "nod", "blink"))
    assert result.reason == "flat-photo"
    result, _ = attempt(Photo(moved=True), ("nod", "turn-left"))
    assert result.reason == "flat-photo"


def test_a_photo_swayed_gently_fails_flat_photo_at_the_timeout() -> None:
    # Never tilted far enough for one frame to tell, but over the step the face deformed
    # beyond the baseline's landmark noise while a homography explained all but that noise.
    for seed in (2, 3, 4):  # with dlib-like landmark noise (1 px)
        result, _ = attempt(Photo(tilt_deg=25, jitter=1.0, seed=seed), ("blink", "open-mouth"),
                            step_timeout_s=3.0)
        assert result.reason == "flat-photo"
        assert result.evidence.steps[-1].took_s >= 3.0


def test_a_replay_of_other_challenges_fails_wrong_action() -> None:
    result, _ = attempt(Replay(("turn-right", "open-mouth", "blink")), ("turn-left", "nod"))
    assert result.reason == "wrong-action"


def test_a_natural_blink_is_no_wrong_action() -> None:
    # Blinks of a replayed recording never count against the person; its turns do.
    result, _ = attempt(Replay(("blink",)), ("turn-left", "nod"), step_timeout_s=3.0)
    assert result.reason != "wrong-action"


def test_someone_else_fails_not_same_person() -> None:
    result, model = attempt(Person("b"))
    assert result.reason == "not-same-person"
    assert model.encodes == 1 and result.evidence.verify_distance is not None
    assert result.evidence.verify_distance > 0.6


def test_a_face_swapped_mid_sequence_fails_face_changed() -> None:
    result, _ = attempt(Person(swap_at=1.3))
    assert result.reason == "face-changed"
    assert result.evidence.steps[0].passed and not result.evidence.steps[-1].passed


def test_another_face_doing_another_action_is_a_face_change() -> None:
    result, model = attempt(Replay(("turn-right",), swap_at=0.8), ("turn-left", "nod"))
    assert result.reason == "face-changed"
    assert model.encodes == 2  # the baseline, and the frame of the sudden "action"


def test_a_box_that_jumps_fails_face_changed() -> None:
    result, _ = attempt(Person(jump_at=1.3))
    assert result.reason == "face-changed"


def test_scene_problems_each_have_their_reason() -> None:
    assert attempt(lambda t, a: Seen(faces=()), step_timeout_s=2.0)[0].reason == "no-face"
    two = attempt(lambda t, a: Seen(faces=(pose(), pose(dx=220))))[0]
    assert two.reason == "two-faces"
    assert attempt(Person(), light=4)[0].reason == "too-dark"
    # A person who turns away during the baseline is asked to face the camera, then fails.
    away = attempt(lambda t, a: Seen(faces=(pose(yaw_deg=40),)), step_timeout_s=2.0)[0]
    assert away.reason == "poor-quality"


def test_hints_say_what_to_do() -> None:
    model = FakeFaceModel()
    check = LivenessCheck(model, template_of("a"), ASKED, landmark_model=model)
    model.seen[0] = Seen(faces=(pose(scale=0.4),))
    assert check.feed(frame(0, 0.0)).hint == "move-closer"
    model.seen[1] = Seen(faces=())
    assert check.feed(frame(1, 0.1)).hint == "no-face"
    model.seen[2] = Seen(faces=(pose(yaw_deg=40),))
    assert check.feed(frame(2, 0.2)).hint == "face-the-camera"
    model.seen[3] = Seen(faces=(pose(),))
    assert check.feed(frame(3, 0.3, light=4)).hint == "more-light"
    model.seen[4] = Seen(faces=(pose(),))
    progress = check.feed(frame(4, 0.4))
    assert progress.hint is None and progress.state == "baseline"


def test_abort_fails_with_the_reason_given() -> None:
    model = FakeFaceModel()
    check = LivenessCheck(model, template_of("a"), ASKED, landmark_model=model)
    check.abort("timeout")
    assert check.done and check.result().reason == "timeout"


def test_a_face_that_leaves_mid_challenge_fails_no_face() -> None:
    person = Person()

    def leaves(t: float, asked: str | None) -> Seen:
        return person(t, asked) if t < 1.0 else Seen(faces=())

    result, _ = attempt(leaves, step_timeout_s=4.0)
    assert result.reason == "no-face"
    with pytest.raises(ValueError):
        LivenessCheck(FakeFaceModel(), template_of("a"), ASKED).abort("because")
