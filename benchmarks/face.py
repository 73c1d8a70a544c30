"""Face engine cost: liveness analysis per frame and 1:1 verification, against bare
face_recognition doing the same work in the same run.

    python -m benchmarks.face [--attempts N] [--verifies N]

- Frames: live-persona attempts (simulators/camera/personas: real photo A, synthesised head
  motion, 640x480) recorded once with what was asked, then replayed.
- `liveness_frame_ms`: LivenessCheck.feed() per frame, encodings excluded (they run on the few
  chosen frames only and are reported apart as `chosen_encode_ms`). CPU time of this thread
  (`time.thread_time`: "on one core", steady while other processes share the machine).
- `bare_liveness_frame_ms`: face_recognition.face_locations(model="hog",
  number_of_times_to_upsample=0) on the same 320x240 downscale plus face_landmarks() with the
  box, on every frame (the engine detects on every other frame and tracks between).
- `verify_ms`: DlibFaceEngine.verify(template, frame) (detect, align, encode, distance), CPU
  time too (dlib runs it on this one thread; wall time is reported as `verify_wall_ms`), against
  `bare_verify_ms`: face_locations(upsample 0) + face_encodings + face_distance on the same
  frames. `ratio` = verify_ms / bare_verify_ms, `liveness_ratio` likewise.
Both sides run interleaved, so that load from other processes falls on both alike.
Progress goes to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any

import numpy as np

from drivers.camera.interface import Frame
from drivers.face.dlib_engine import DlibFaceEngine
from drivers.face.interface import FaceTemplate
from drivers.face.liveness import LivenessCheck, draw_challenges

FPS = 15.0
CLOCK = time.thread_time


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _record(engine: DlibFaceEngine, template: FaceTemplate, seed: int
            ) -> tuple[tuple[str, ...], list[Frame]]:
    """One live attempt's frames (the persona reacts to what the check asks)."""
    from simulators.camera.personas import make_persona

    persona = make_persona("live", seed=seed)
    challenges = draw_challenges(random.Random(seed))
    check = LivenessCheck(engine, template, challenges)
    frames: list[Frame] = []
    t = 0.0
    while not check.done and t < 30:
        frame = Frame(persona.frame(t, check.progress.current), len(frames), t)
        frames.append(frame)
        check.feed(frame)
        t = len(frames) / FPS
    if not check.result().passed:
        raise SystemExit(f"the live persona failed ({check.result().reason}): no benchmark")
    return challenges, frames


def _ours(engine: DlibFaceEngine, template: FaceTemplate, challenges: tuple[str, ...],
          frames: list[Frame]) -> tuple[list[float], list[float]]:
    check = LivenessCheck(engine, template, challenges, perf_clock=CLOCK)
    for frame in frames:
        check.feed(frame)
    result = check.result()
    assert result.passed, result.reason
    # feed() measures itself and takes the encodings out; encodings are timed apart.
    return list(check.frame_ms), list(check.encode_ms)


def _bare(frames: list[Frame]) -> list[float]:
    import cv2
    import face_recognition

    samples = []
    for frame in frames:
        started = CLOCK()
        small = cv2.resize(frame.pixels, (frame.width // 2, frame.height // 2),
                           interpolation=cv2.INTER_AREA)
        found = face_recognition.face_locations(small, number_of_times_to_upsample=0,
                                                model="hog")
        if found:
            top, right, bottom, left = (2 * v for v in found[0])
            face_recognition.face_landmarks(frame.pixels, [(top, right, bottom, left)])
        samples.append((CLOCK() - started) * 1000)
    return samples


def _verify_ours(engine: DlibFaceEngine, template: FaceTemplate, frame: Frame
                 ) -> tuple[float, float]:
    started, wall = CLOCK(), time.perf_counter()
    match = engine.verify(template, frame)
    took = ((CLOCK() - started) * 1000, (time.perf_counter() - wall) * 1000)
    assert match.same_person
    return took


def _verify_bare(template: FaceTemplate, frame: Frame) -> tuple[float, float]:
    import face_recognition

    started, wall = CLOCK(), time.perf_counter()
    found = face_recognition.face_locations(frame.pixels, number_of_times_to_upsample=0)
    encodings = face_recognition.face_encodings(frame.pixels, found)
    distance = face_recognition.face_distance([np.asarray(template.values)], encodings[0])[0]
    took = ((CLOCK() - started) * 1000, (time.perf_counter() - wall) * 1000)
    assert distance <= 0.6
    return took


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"mean": round(statistics.fmean(ordered), 3),
            "median": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=4, help="live attempts recorded")
    parser.add_argument("--repeat", type=int, default=3, help="replays of each attempt")
    parser.add_argument("--verifies", type=int, default=12)
    args = parser.parse_args(argv)

    import face_recognition

    from simulators.camera.photos import photos

    engine = DlibFaceEngine()
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    enrolment = face_recognition.load_image_file(str(photos("a")[0].path))
    template = FaceTemplate(tuple(float(v) for v in face_recognition.face_encodings(enrolment)[0]))

    recorded = []
    for seed in range(args.attempts):
        recorded.append(_record(engine, template, seed))
        _log(f"recorded attempt {seed}: {recorded[-1][0]}, {len(recorded[-1][1])} frames")

    ours: list[float] = []
    encodes: list[float] = []
    bare: list[float] = []
    for round_ in range(args.repeat):
        for challenges, frames in recorded:
            analysis, encoded = _ours(engine, template, challenges, frames)
            ours += analysis
            encodes += encoded
            bare += _bare(frames)
        _log(f"round {round_}: ours {statistics.fmean(ours):.2f} ms, "
             f"bare {statistics.fmean(bare):.2f} ms per frame")

    verify_frames = [frames[len(frames) // 8] for _, frames in recorded]
    verify_ours: list[float] = []
    verify_bare: list[float] = []
    walls: list[float] = []
    for i in range(args.verifies):
        frame = verify_frames[i % len(verify_frames)]
        cpu, wall = _verify_ours(engine, template, frame)
        verify_ours.append(cpu)
        walls.append(wall)
        verify_bare.append(_verify_bare(template, frame)[0])
    _log(f"verify: ours {statistics.median(verify_ours):.1f} ms, "
         f"bare {statistics.median(verify_bare):.1f} ms")

    liveness = statistics.fmean(ours)
    bare_liveness = statistics.fmean(bare)
    verify = statistics.median(verify_ours)
    bare_verify = statistics.median(verify_bare)
    report = {
        "liveness_frame_ms": round(liveness, 3),
        "bare_liveness_frame_ms": round(bare_liveness, 3),
        "liveness_ratio": round(liveness / bare_liveness, 3),
        "verify_ms": round(verify, 3),
        "bare_verify_ms": round(bare_verify, 3),
        "ratio": round(verify / bare_verify, 3),
        "liveness_frame": _stats(ours),
        "bare_liveness_frame": _stats(bare),
        "chosen_encode_ms": _stats(encodes),
        "frames": len(ours),
        "verifies": len(verify_ours),
        "verify_wall_ms": round(statistics.median(walls), 3),
        "model_load_s": round(load_s, 3),
        "clock": "thread CPU time (one core); verify_wall_ms is wall time on a shared machine",
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
