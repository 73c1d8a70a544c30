"""benchmarks/kiosk.py runs as documented (`python -m benchmarks.kiosk`) with tiny numbers, on
the real stack (central, edge, pcscd+vpcd, the virtual card, the offscreen kiosk), and ends with
its one JSON line: every figure measured, beside its baseline, and the face models not loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("cold_start_s", "tap_p95_ms", "card_to_name_ms", "rss_mb")


@pytest.mark.timeout(420)
def test_the_kiosk_benchmark_measures_each_figure_beside_its_baseline() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.kiosk", "--starts", "1", "--taps", "2",
         "--inserts", "1", "--no-camera"],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert (got["cold_starts"], got["taps"], got["inserts"]) == (1, 4, 1)
    for figure in FIGURES:
        assert got[figure] > 0, figure
    assert set(got["met"]) == set(FIGURES)
    for baseline in ("baseline_cold_start_s", "baseline_tap_p95_ms", "baseline_card_ms",
                     "baseline_rss_mb"):
        assert got[baseline] > 0, baseline
    assert got["cold_start_ratio"] > 0 and got["tap_ratio"] > 0
    assert got["card_to_name_ratio"] > 0 and got["rss_ratio"] > 0
    assert got["apdus_per_read"] > 1  # the baseline replays a whole read, not one SELECT
    assert got["face_models_loaded"] is False
    assert got["rss_after_session_mb"] > 0
