"""Camera QR decoding: zxing-cpp against pyzbar on a seeded set of degraded 1280x720 frames,
each through the driver's decoder and as the bare library, in the same run.

    python -m benchmarks.qr [--frames N] [--seed S]

- Frames: simulators/qr/frames.degraded_set(N, seed): a random e-card-like token (56 chars of
  base64url) per frame, on a phone in a cluttered scene, tilted, rotated, blurred, noisy, low
  in contrast, with glare and screen moiré (one to three of them badly per frame).
- `zxing_success` / `pyzbar_success`: the fraction of frames where the driver's decoder
  (drivers/qr/decode.py, what CameraQrScanner runs) returns exactly the frame's payload.
  `zxing_ms` / `pyzbar_ms`: its median per frame, CPU time of this thread
  (`time.thread_time`: "on one core", steady while other processes share the machine);
  wall-clock medians are `*_wall_ms`.
- Baseline: the bare libraries on the same frames (`bare_*`): zxingcpp.read_barcodes on the
  RGB frame with formats=QRCode, and pyzbar.decode on OpenCV's grey image with the QR symbol
  only. `*_overhead_ratio` = driver median / bare median.
- `scanner_success`: the whole CameraQrScanner (thread, debounce, events) on a camera that
  hands it the same frames one by one: codes published / frames.
All four decoders run interleaved on each frame, so load from other processes falls on all
alike. Targets (issue 8): zxing_success >= 0.95 at zxing_ms <= 5. Progress goes to stderr;
the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

CLOCK = time.thread_time


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _timed(decode: Callable[[np.ndarray], list[bytes]], pixels: np.ndarray,
           ) -> tuple[list[bytes], float, float]:
    started, wall = CLOCK(), time.perf_counter()
    found = decode(pixels)
    return found, (CLOCK() - started) * 1000, (time.perf_counter() - wall) * 1000


def _decoders() -> dict[str, Callable[[np.ndarray], list[bytes]]]:
    import cv2
    import zxingcpp
    from pyzbar import pyzbar

    from drivers.qr.decode import make_decoder

    ours_zxing, ours_pyzbar = make_decoder("zxing"), make_decoder("pyzbar")
    qr_only = zxingcpp.BarcodeFormat.QRCode
    symbols = [pyzbar.ZBarSymbol.QRCODE]

    def bare_zxing(pixels: np.ndarray) -> list[bytes]:
        return [bytes(c.bytes) for c in zxingcpp.read_barcodes(pixels, formats=qr_only)]

    def bare_pyzbar(pixels: np.ndarray) -> list[bytes]:
        grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        return [c.data for c in pyzbar.decode(grey, symbols=symbols)]

    return {
        "zxing": lambda p: [c.payload for c in ours_zxing.decode(p)],
        "bare_zxing": bare_zxing,
        "pyzbar": lambda p: [c.payload for c in ours_pyzbar.decode(p)],
        "bare_pyzbar": bare_pyzbar,
    }


class _ListCamera:
    """A Camera that hands out the given frames in order, each once (for the whole scanner)."""

    kind = "camera"
    description = "benchmark frames"

    def __init__(self, pixels: list[np.ndarray]) -> None:
        from drivers.camera.interface import Frame

        self._frames = [Frame(p, i, float(i)) for i, p in enumerate(pixels)]
        self._next = 0
        self._lock = threading.Lock()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> Any:
        from drivers.base import Health, HealthState

        return Health(HealthState.OK)

    def subscribe(self, observer: Any) -> Any:
        return lambda: None

    def latest_frame(self) -> Any:
        return None

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Any:
        with self._lock:
            if self._next >= len(self._frames):
                return None
            frame = self._frames[self._next]
            self._next += 1
            return frame

    @property
    def done(self) -> bool:
        return self._next >= len(self._frames)


def _scanner_success(samples: list[Any]) -> tuple[float, float]:
    """Codes the whole CameraQrScanner published on the frames, and its wall time a frame."""
    from drivers.qr.camera import CameraQrScanner
    from drivers.qr.interface import CodeScanned

    camera = _ListCamera([s.pixels for s in samples])
    published: list[bytes] = []
    finished = threading.Event()
    scanner = CameraQrScanner(camera, debounce_s=0.0)  # type: ignore[arg-type]
    scanner.subscribe(lambda e: published.append(e.payload) if isinstance(e, CodeScanned)
                      else None)
    started = time.perf_counter()
    scanner.start()
    while not (camera.done and scanner.stats().get("frames", 0) >= len(samples)):
        finished.wait(0.05)  # paces this poll of a counter; nothing signals it
    took = time.perf_counter() - started
    scanner.stop()
    expected = {s.payload.encode() for s in samples}
    return len(set(published) & expected) / len(samples), took * 1000 / len(samples)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=500, help="degraded frames (>= 500)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)

    from simulators.qr.frames import HEIGHT, WIDTH, degraded_set

    started = time.perf_counter()
    samples = degraded_set(args.frames, seed=args.seed)
    _log(f"rendered {len(samples)} frames at {WIDTH}x{HEIGHT} in "
         f"{time.perf_counter() - started:.1f} s")
    decoders = _decoders()
    ok = {name: 0 for name in decoders}
    cpu: dict[str, list[float]] = {name: [] for name in decoders}
    wall: dict[str, list[float]] = {name: [] for name in decoders}
    for i, sample in enumerate(samples):
        want = sample.payload.encode()
        for name, decode in decoders.items():
            found, took, took_wall = _timed(decode, sample.pixels)
            ok[name] += want in found
            cpu[name].append(took)
            wall[name].append(took_wall)
        if (i + 1) % 100 == 0:
            _log(f"{i + 1} frames: " + ", ".join(f"{n} {ok[n] / (i + 1):.3f}" for n in ok))
    scanner_success, scanner_wall_ms = _scanner_success(samples)

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    n = len(samples)
    report: dict[str, Any] = {
        "frames": n, "width": WIDTH, "height": HEIGHT, "seed": args.seed,
        "zxing_success": round(ok["zxing"] / n, 4), "zxing_ms": median(cpu["zxing"]),
        "pyzbar_success": round(ok["pyzbar"] / n, 4), "pyzbar_ms": median(cpu["pyzbar"]),
        "zxing_wall_ms": median(wall["zxing"]), "pyzbar_wall_ms": median(wall["pyzbar"]),
        "bare_zxing_success": round(ok["bare_zxing"] / n, 4),
        "bare_zxing_ms": median(cpu["bare_zxing"]),
        "bare_pyzbar_success": round(ok["bare_pyzbar"] / n, 4),
        "bare_pyzbar_ms": median(cpu["bare_pyzbar"]),
        "zxing_overhead_ratio": round(median(cpu["zxing"]) / median(cpu["bare_zxing"]), 3),
        "pyzbar_overhead_ratio": round(median(cpu["pyzbar"]) / median(cpu["bare_pyzbar"]), 3),
        "zxing_p95_ms": round(sorted(cpu["zxing"])[int(0.95 * (n - 1))], 3),
        "scanner_success": round(scanner_success, 4),
        "scanner_frame_wall_ms": round(scanner_wall_ms, 3),
    }
    report["meets_target"] = report["zxing_success"] >= 0.95 and report["zxing_ms"] <= 5.0
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
