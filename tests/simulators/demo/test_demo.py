"""`kioskctl demo`, the README's demo command, as a user runs it: offscreen it plays the scripted
journey (including an application made while central is down, sent when it is back, and a
pension certification by face in the hall), names its
screenshots, and leaves nothing running, also when stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.ocr import read_chinese, reads

pytestmark = pytest.mark.e2e


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(f"{pid}: {cmdline}")
    return found


def _demo(workdir: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    return subprocess.Popen(
        [sys.executable, "-m", "kioskctl", "demo", "--workdir", str(workdir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )


@pytest.mark.timeout(420)  # the whole stack and an 18-screen journey on 2 loaded cores
def test_offscreen_demo_plays_the_journey_and_names_its_screenshots(tmp_path):
    proc = _demo(tmp_path)
    output, _ = proc.communicate(timeout=360)
    assert proc.returncode == 0, output
    listed = [line.strip() for line in output.splitlines() if line.strip().endswith(".png")
              and not line.strip().startswith("screenshot")]
    assert len(listed) == 18, output
    shots_dir = next(tmp_path.glob("*/screenshots"))
    assert all((shots_dir / name).is_file() for name in listed)
    assert reads("养老金发放记录", read_chinese(shots_dir / "03-benefits.png"))
    assert "等待发送" in read_chinese(shots_dir / "11-receipt-queued.png")
    assert "online=True" in output
    # The application made while central was down: queued, then sent, recorded once.
    assert re.search(r"receipt R\d{8}[0-9A-Z]{10}: queued", output), output
    assert re.search(r"receipt R\d{8}[0-9A-Z]{10}: sent, application SQ\d{16}", output), output
    assert "the simulator recorded it exactly once" in output
    # The pensioner's certification in the hall: face, liveness, a signed record, once.
    assert reads("资格认证已完成", read_chinese(shots_dir / "14-certification-receipt.png"))
    assert "the province recorded the certification once, its signature checked" in output
    # A short field trip: offline in the village, synced once back in range.
    assert "待发送" in read_chinese(shots_dir / "16-field-receipt-queued.png")
    assert "the province recorded the field certification once" in output
    # The e-SSC code at the scanner, and a signed certificate printed on A4 whose code the
    # public verify endpoint accepts.
    assert reads("证明已打印", read_chinese(shots_dir / "18-certificate-printed.png"))
    assert re.search(r"verify [2-9A-HJ-NP-Y]{4}(-[2-9A-HJ-NP-Y]{4}){3}: genuine", output), output
    assert "everything it started has stopped" in output
    assert _processes_mentioning(str(tmp_path)) == []


def test_ctrl_c_stops_everything_the_demo_started(tmp_path):
    proc = _demo(tmp_path, "--no-journey")  # the stack up, waiting: the journey is above
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # read until the demo says it is up and waiting
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    else:
        pytest.fail("the demo ended before it was up:\n" + "".join(lines))
    assert _processes_mentioning(str(tmp_path)) != []  # the stack is really running
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + rest
    assert "everything it started has stopped" in rest
    assert _processes_mentioning(str(tmp_path)) == []
