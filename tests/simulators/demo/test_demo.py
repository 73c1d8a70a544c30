"""`kioskctl demo`, the README's demo command, as a user runs it: offscreen it plays the scripted
journey through every journey the kiosk has (payments, contributions in pages, the pension
account, a PIN change and a staff unlock, a card loss report and its reversal, an application
made while central is down and followed in "my applications", a pension certification by face
in the hall, a field trip, the e-SSC code with a certificate and the rights record printed),
names its screenshots, and leaves nothing running, also when stopped with Ctrl-C. What central
and the edge recorded is read back from their databases after the run."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
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


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(query))


def _demo(workdir: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    return subprocess.Popen(
        [sys.executable, "-m", "kioskctl", "demo", "--workdir", str(workdir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )


@pytest.mark.timeout(480)  # the whole stack and a 30-screen journey on 2 loaded cores
def test_offscreen_demo_plays_the_journey_and_names_its_screenshots(tmp_path):
    proc = _demo(tmp_path)
    output, _ = proc.communicate(timeout=420)
    assert proc.returncode == 0, output
    listed = [line.strip() for line in output.splitlines() if line.strip().endswith(".png")
              and not line.strip().startswith("screenshot")]
    assert len(listed) == 30, output
    run_dir = next(tmp_path.glob("*/screenshots")).parent
    shots_dir = run_dir / "screenshots"
    assert all((shots_dir / name).is_file() for name in listed)
    assert reads("养老金发放记录", read_chinese(shots_dir / "03-benefits.png"))
    # Contributions a page at a time (the second page shown), the pension personal account.
    assert reads("缴费记录", read_chinese(shots_dir / "03b-contributions-page-2.png"))
    assert reads("账户余额", read_chinese(shots_dir / "03c-pension-account.png"))
    # The PIN changed, locked by three wrong tries, unlocked by a staff member: the edge
    # audited the key centre's authorisation of the card's PIN reload, with the staff ID.
    assert reads("密码已修改", read_chinese(shots_dir / "08a-pin-changed.png"))
    assert reads("密码已解锁", read_chinese(shots_dir / "08c-pin-unlocked.png"))
    edge_db = run_dir / "edge" / "edge.db"
    assert _rows(edge_db, "SELECT outcome FROM audit_log WHERE action = "
                 "'card.pin-authorisation'") == [("reload authorised 10001",)]
    # The card reported lost without it, then found again: central recorded the report and
    # the reversal for the same citizen, once each, and the card is back in use.
    assert reads("挂失已办理", read_chinese(shots_dir / "08d-card-loss-receipt.png"))
    assert reads("已解除挂失", read_chinese(shots_dir / "08f-card-loss-reversed.png"))
    central_db = run_dir / "central" / "central-sim.sqlite3"
    losses = _rows(central_db, "SELECT kind, citizen_index FROM submissions WHERE outcome = "
                   "'recorded' AND kind LIKE 'card-loss%' ORDER BY seq")
    assert [kind for kind, _ in losses] == ["card-loss-report", "card-loss-reversal"], losses
    assert losses[0][1] == losses[1][1]
    assert "central: the card is reported-lost, 1 loss report recorded" in output
    assert "central: the card is normal, 1 reversal recorded" in output
    # Every records journey reached the edge, audited as a citizen's own look-up.
    audited = {action for (action,) in _rows(edge_db, "SELECT DISTINCT action FROM audit_log")}
    assert {"contributions.viewed", "pension-account.viewed", "benefits.viewed"} <= audited
    assert "等待发送" in read_chinese(shots_dir / "11-receipt-queued.png")
    assert "online=True" in output
    # The application made while central was down: queued, then sent, recorded once.
    assert re.search(r"receipt R\d{8}[0-9A-Z]{10}: queued", output), output
    assert re.search(r"receipt R\d{8}[0-9A-Z]{10}: sent, application SQ\d{16}", output), output
    assert "the simulator recorded it exactly once" in output
    # ... and "my applications" lists it, sent, with its status.
    assert reads("我的申请进度", read_chinese(shots_dir / "11a-applications.png"))
    assert reads("申请进度", read_chinese(shots_dir / "11b-application-status.png"))
    # The pensioner's certification in the hall: face, liveness, a signed record, once.
    assert reads("资格认证已完成", read_chinese(shots_dir / "14-certification-receipt.png"))
    assert "the province recorded the certification once, its signature checked" in output
    # A short field trip: offline in the village, synced once back in range.
    assert "待发送" in read_chinese(shots_dir / "16-field-receipt-queued.png")
    assert "the province recorded the field certification once" in output
    # The e-SSC code at the scanner, and a signed certificate printed on A4 whose code the
    # public verify endpoint accepts.
    assert reads("证明已打印", read_chinese(shots_dir / "18-certificate-printed.png"))
    code = r"[2-9A-HJ-NP-Y]{4}(-[2-9A-HJ-NP-Y]{4}){3}"
    assert re.search(rf"verify certificate {code}: genuine", output), output
    # The personal rights record, printed on A4 in the same session, its code genuine too.
    assert reads("证明已打印", read_chinese(shots_dir / "19-rights-record-printed.png"))
    assert re.search(rf"verify rights record {code}: genuine \(个人权益记录", output), output
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
