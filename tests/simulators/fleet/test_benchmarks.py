"""The fleet simulator's benchmarks run as documented (`python -m benchmarks.<name>`), with tiny
numbers, and end with their one JSON line (as tests/e2e/test_field_day.py does for its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fleet_scale_holds_its_terminals_beside_bare_paho() -> None:
    got = _run("benchmarks.fleet_scale", "--terminals", "60", "--baseline-clients", "20",
               "--loops", "2")
    assert (got["connected"], got["baseline_connected"], got["baseline_clients"]) == (60, 20, 20)
    assert got["all_connected"] and got["kb_per_terminal"] > 0
    assert got["ratio_kb"] is not None and got["broker_fd_limit"] >= 60


def test_rollout_downloads_and_commits_on_every_terminal() -> None:
    got = _run("benchmarks.rollout", "--terminals", "20", "--artifact-kb", "32",
               "--workers", "4", "--mode", "shared")
    assert (got["state"], got["succeeded"], got["running_new_release"]) == ("succeeded", 20, 20)
    assert got["downloads"] == 20 and got["bytes"] == 20 * got["artifact_bytes"]
    assert got["tuf_refreshes"] == 1  # shared: one refresh for the process
    assert got["baseline_bytes"] == got["bytes"] and got["terminals_updated_twice"] == 0
    assert got["ratio"] > 0
