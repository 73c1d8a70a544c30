"""Liveness against the camera simulator's personas: APCER per attack species and BPCER.

    python -m benchmarks.liveness [--runs 20] [--max-s 30]

For each persona, `--runs` attempts with a different seed each: challenges drawn with
drivers.face.liveness.draw_challenges, frames rendered at 15 frames per second of simulated
time (t advances 1/15 s a frame; the persona is told the check's current challenge) and fed
to a LivenessCheck holding the template of photo A #1 (what central enrols). An attempt ends
when the check is done (or after `--max-s` simulated seconds: a timeout).

- APCER per species (photo-still, photo-moved, replay, impostor, swap): attacks accepted /
  attempts. BPCER: live attempts rejected / attempts. empty, two-people and dark must be
  rejected with their own reason (no-face, two-faces, too-dark): `wrong_reason` counts those
  that were not.
- Baseline, in the same run: the same frames through the bare face_recognition calls a
  per-frame check would make (face_locations + face_landmarks), for `frames_per_s` (the
  whole LivenessCheck.feed, encodings included) against `bare_frames_per_s`.
- `render_frames_per_s`: how fast each persona renders its frames (the simulator's own cost).
- Replay: a recording that happens to perform exactly the drawn challenges in order would be
  a genuine attempt replayed: the draw is repeated then (a 1-in-60 coincidence, counted in
  `replay_redraws`).

Progress and the table go to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

from drivers.camera.interface import Frame
from simulators.camera.personas import ATTACKS, PERSONAS, make_persona, recorded_sequence
from simulators.camera.photos import photos

FPS = 15.0
OWN_REASON = {"empty": "no-face", "two-people": "two-faces", "dark": "too-dark"}


def _template() -> Any:
    import face_recognition
    from PIL import Image

    from drivers.face.interface import FaceTemplate

    with Image.open(photos("a")[0].path) as opened:
        image = np.asarray(opened.convert("RGB"))
    encodings = face_recognition.face_encodings(image)
    return FaceTemplate(tuple(float(v) for v in encodings[0]))


def _challenges(persona: str, seed: int, draws: Counter[str]) -> tuple[str, ...]:
    from drivers.face.liveness import draw_challenges

    rng = random.Random(f"{persona}:{seed}")
    challenges = draw_challenges(rng)
    while persona == "replay" and challenges == recorded_sequence(seed):
        draws["replay_redraws"] += 1
        challenges = draw_challenges(rng)
    return challenges


def run_once(engine: Any, template: Any, persona: str, seed: int, max_s: float,
             draws: Counter[str], keep: list[np.ndarray] | None = None) -> tuple[bool, str, int,
                                                                            float]:
    """One attempt: (passed, reason, frames, seconds spent in feed)."""
    from drivers.face.liveness import LivenessCheck

    challenges = _challenges(persona, seed, draws)
    scene = make_persona(persona, seed=seed)
    check = LivenessCheck(engine, template, challenges)
    asked: str | None = None
    spent = 0.0
    n = 0
    for n in range(int(max_s * FPS)):
        t = n / FPS
        pixels = scene.frame(t, asked)
        if keep is not None and n % 5 == 0:
            keep.append(pixels)
        started = time.perf_counter()
        progress = check.feed(Frame(pixels, n, 1000.0 + t))
        spent += time.perf_counter() - started
        if check.done:
            break
        asked = progress.current
    if not check.done:
        check.abort("timeout")
    result = check.result()
    return result.passed, result.reason or "passed", n + 1, spent


def bare_baseline(frames: list[np.ndarray]) -> float:
    """Frames per second of the bare calls a per-frame analysis needs."""
    import face_recognition

    started = time.perf_counter()
    for pixels in frames:
        boxes = face_recognition.face_locations(pixels, number_of_times_to_upsample=0)
        if boxes:
            face_recognition.face_landmarks(pixels, boxes[:1])
    return len(frames) / (time.perf_counter() - started)


def render_rate(persona: str, frames: int = 90) -> float:
    """Frames per second one persona renders (one warm-up second first)."""
    scene = make_persona(persona, seed=99)
    for n in range(15):
        scene.frame(n / FPS, None)
    started = time.perf_counter()
    for n in range(15, 15 + frames):
        scene.frame(n / FPS, "turn-left" if n > 30 else None)
    return frames / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.liveness")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-s", type=float, default=30.0)
    parser.add_argument("--personas", default=",".join(PERSONAS))
    args = parser.parse_args(argv)
    from drivers.face.dlib_engine import DlibFaceEngine

    engine = DlibFaceEngine()
    engine.load()
    template = _template()
    chosen = [p for p in args.personas.split(",") if p]
    outcomes: dict[str, Counter[str]] = {}
    accepted: dict[str, int] = {}
    draws: Counter[str] = Counter()
    frames = 0
    spent = 0.0
    sample: list[np.ndarray] = []
    for persona in chosen:
        outcomes[persona] = Counter()
        accepted[persona] = 0
        for seed in range(args.runs):
            passed, reason, n, took = run_once(engine, template, persona, seed, args.max_s,
                                               draws, sample if len(sample) < 400 else None)
            frames += n
            spent += took
            accepted[persona] += int(passed)
            outcomes[persona][reason] += 1
            print(f"{persona:12s} seed {seed:3d}: {reason:16s} ({n} frames)", file=sys.stderr)
    bare = bare_baseline(sample) if sample else 0.0
    rendering = {p: round(render_rate(p), 1) for p in chosen}
    runs = args.runs
    apcer = {p: round(accepted[p] / runs, 4) for p in ATTACKS if p in accepted}
    bpcer = round(1 - accepted["live"] / runs, 4) if "live" in accepted else None
    wrong = {p: runs - outcomes[p][r] for p, r in OWN_REASON.items() if p in outcomes}
    print(f"\n{'persona':12s} {'accepted':>8s} {'rejected':>8s}  reasons", file=sys.stderr)
    for p in chosen:
        reasons = ", ".join(f"{r} {c}" for r, c in outcomes[p].most_common())
        print(f"{p:12s} {accepted[p]:8d} {runs - accepted[p]:8d}  {reasons}", file=sys.stderr)
    report = {
        "apcer": apcer, "bpcer": bpcer, "runs": runs,
        "reasons": {p: dict(c) for p, c in outcomes.items()},
        "wrong_reason": wrong,
        "replay_redraws": draws["replay_redraws"],
        "frames": frames,
        "frames_per_s": round(frames / spent, 1) if spent else None,
        "bare_frames_per_s": round(bare, 1),
        "baseline_frames": len(sample),
        "render_frames_per_s": rendering,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
