"""Real windows: the kiosk as a real process (offscreen), and every screen rendered once.

Both run in subprocesses: Kivy's Window is a process-wide singleton, and a real process is
what the fleet agent and the demo talk to. Chinese rendering is proven by OCR (tesseract
chi_sim): boxes instead of glyphs would not read back as words.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.requirements import MissingSystemPackage, require
from simulators.stack.supervisor import ManagedProcess, ProcessFailed
from tests.harness.ocr import read_chinese, reads
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for
from tests.kiosk.gallery_all import kivy_env

__all__ = ["GALLERY_TIMEOUT_S", "ROOT", "kivy_env", "ocr", "run_gallery"]

ROOT = Path(__file__).resolve().parents[2]


def ocr(png: Path) -> str:
    """The Chinese text tesseract reads in a screenshot, whitespace removed."""
    try:
        return read_chinese(png)
    except MissingSystemPackage as exc:
        fail_on_missing(exc)
        raise


# The kiosk process, as services.kiosk() starts it for the demo and the end-to-end tests ----

class RunningKiosk:
    def __init__(self, process: ManagedProcess, url: str, shots: Path) -> None:
        self.process = process
        self.http = httpx.Client(base_url=url, timeout=30)
        self.shots = shots


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[RunningKiosk]:
    shots = tmp_path / "shots"
    with supervised(tmp_path / "logs") as sup:
        try:
            require("cjk-font")
            spec = services.kiosk(
                tmp_path / "kiosk", device_id="kiosk-test-01",
                device_token="dev1.kiosk-test-01.unused", pcscd_env={},
                edge_url=f"http://127.0.0.1:{free_port()}", screenshots=shots,
                # No PC/SC reader here: the card journey is the end-to-end tests' job.
                extra_env={"KIOSK_PERIPHERALS__CARD": "absent"},
            )
            process = sup.start(spec.spec)
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        running = RunningKiosk(process, spec.url, shots)
        yield running
        running.http.close()


def test_status_reports_health_and_no_citizen_data(kiosk: RunningKiosk) -> None:
    assert kiosk.http.get("/automation/wait", params={"screen": "attract"}).status_code == 200
    status = kiosk.http.get("/status").json()
    assert status["device_id"] == "kiosk-test-01" and status["screen"] == "attract"
    assert status["session_active"] is False and status["app_version"]
    reader = status["peripherals"]["card_reader"]
    assert (reader["state"], reader["code"]) == ("missing", "not-configured")
    assert set(status) == {"schema", "app_version", "device_id", "screen", "session_active",
                           "peripherals", "credential", "maintenance"}  # kiosk-status.md
    assert status["maintenance"] == {"on": False, "pending": False}
    # A legacy dev1 token (no expiry): usable as far as the kiosk can tell, never shown.
    assert status["credential"] == {"state": "valid", "out_of_service": False, "expires_at": None}


def test_the_attract_screen_renders_chinese(kiosk: RunningKiosk) -> None:
    assert kiosk.http.get("/automation/wait",
                          params={"screen": "attract", "timeout": 30}).status_code == 200
    texts = kiosk.http.get("/automation/texts").json()
    assert texts["screen"] == "attract"
    assert "请插入社会保障卡" in texts["texts"]

    shot = kiosk.http.post("/automation/screenshot", json={"name": "attract"})
    assert shot.status_code == 200
    path = Path(shot.json()["path"])
    assert path == kiosk.shots / "attract.png" and path.stat().st_size > 10_000
    read = ocr(path)
    assert reads("请插入社会保障卡", read), read
    assert reads("社会保障自助服务", read), read

    # --screenshots: the first screen change was captured by itself, named by sequence. It is
    # encoded on a background thread, so on a loaded machine it may land after ours.
    auto = kiosk.shots / "001-attract.png"
    wait_for(auto.is_file, "the automatic screenshot of the first screen", timeout=20)


def test_taps_on_absent_buttons_are_refused(kiosk: RunningKiosk) -> None:
    kiosk.http.get("/automation/wait", params={"screen": "attract"})
    r = kiosk.http.post("/automation/tap", json={"target": "home.benefits"})
    # Only the walk-up service (a lost card) is on the attract screen.
    assert r.status_code == 404 and r.json()["targets"] == ["attract.card-loss"]
    r = kiosk.http.get("/automation/wait", params={"screen": "home", "timeout": 0.3})
    assert r.status_code == 408 and r.json()["screen"] == "attract"


def test_sigterm_stops_the_kiosk_cleanly(kiosk: RunningKiosk) -> None:
    kiosk.http.get("/automation/wait", params={"screen": "attract"})
    status = kiosk.process.stop()  # SIGTERM to the process group, SIGKILL after 10 s
    log = kiosk.process.log_path.read_text(errors="replace")
    assert status == 0, log[-3000:]
    assert "SIGTERM received" in log and "kiosk stopped" in log
    assert "Traceback" not in log


# Every screen, with a fake reader and a scripted edge ------------------------------------
# The gallery checks every screen it shows (tests/kiosk/ui/screen_checks.py): text fits and
# is not clipped or overlapping, touch targets are big enough, the contrast measured on the
# PNG is 4.5:1 or better. Any failure fails the walk, so each test below checks every screen.

GALLERY_TIMEOUT_S = 240


def run_gallery(out: Path, *args: str) -> dict[str, Any]:
    try:
        require("cjk-font")
    except MissingSystemPackage as exc:
        fail_on_missing(exc)
    result = subprocess.run(
        [sys.executable, "-m", "tests.kiosk.gallery", str(out), *args], cwd=ROOT,
        # A guard against a wedged renderer, not a speed check: ~80 s on 2 loaded cores.
        env=kivy_env(out / "kivy"), capture_output=True, text=True, timeout=GALLERY_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    manifest: dict[str, Any] = json.loads((out / "gallery.json").read_text())
    return manifest


@pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)
def test_every_screen_renders_in_the_elder_theme(tmp_path: Path) -> None:
    shots = run_gallery(tmp_path)
    assert len(shots) == 17
    texts = {step: " ".join(shot["texts"]) for step, shot in shots.items()}
    screens = {step: shot["screen"] for step, shot in shots.items()}
    assert screens["02-reading"] == "reading" and "正在读卡" in texts["02-reading"]
    assert "正在查询您的信息" in texts["03-identifying"]
    assert "您好，张*" in texts["04-home"] and "养老金发放记录" in texts["04-home"]
    assert "¥3,456.78" in texts["06-benefits"] and "第 1 页，共 3 页" in texts["06-benefits"]
    assert "第 2 页，共 3 页" in texts["07-benefits-page-2"]
    contributions = texts["07a-contributions"]
    assert "缴费记录" in contributions and "个人缴纳 （元）" in contributions
    assert "5,961.60" in contributions
    assert "9（欠2）" in contributions and "第 1 页，共 3 页" in contributions
    account = texts["07b-pension-account"]
    assert "账户余额：¥86,543.21" in account and "年末余额" in account
    assert "服务暂时不可用" in texts["08-message-edge-down"]
    assert "正在自动重试…" in texts["08-message-edge-down"]
    assert "您还在吗？" in texts["09-idle-warning"]
    assert "请取回您的社保卡" in texts["10-ending"]
    assert "读卡未完成" in texts["11-message-card-pulled"]
    assert "数据更新于 2026年11月22日 10:00" in texts["12-home-stale"]
    assert "社保中心暂时连不上" in texts["13-benefits-stale"]
    assert "第三代卡" in texts["14-message-needs-psam"]
    assert "读卡器暂时不能使用" in texts["15-attract-no-reader"]
    # Home and benefits hold citizen data: they must not leak into the next screens' texts.
    assert "张*" not in texts["10-ending"] and "¥" not in texts["11-message-card-pulled"]

    home = ocr(Path(shots["04-home"]["path"]))
    # tesseract's page layout now and then takes one blue button of the dense services grid
    # for a picture and skips it (which one moves with the clock in the header): several
    # services read back prove the glyphs as well as one named service did.
    services = ("养老金发放记录", "缴费记录", "养老保险个人账户", "申请补贴", "我的申请进度",
                "修改社保卡密码")
    assert sum(reads(name, home) for name in services) >= 4 and "您好" in home, home
    benefits = ocr(Path(shots["06-benefits"]["path"]))
    assert "已发放" in benefits and "参保情况" in benefits, benefits
    message = ocr(Path(shots["11-message-card-pulled"]["path"]))
    assert reads("读卡未完成", message), message
    # The automatic per-screen shots (--screenshots) are there too, in order.
    automatic = sorted(p.name for p in tmp_path.glob("[0-9][0-9][0-9]-*.png"))
    assert automatic[0] == "001-attract.png" and any(n.endswith("-benefits.png")
                                                     for n in automatic)


@pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)
def test_every_screen_renders_in_english_and_the_normal_theme(tmp_path: Path) -> None:
    shots = run_gallery(tmp_path, "--theme", "normal", "--language", "en")
    texts = {step: " ".join(shot["texts"]) for step, shot in shots.items()}
    assert "Please insert your social security card" in texts["01-attract"]
    assert "Hello, 张*" in texts["04-home"]
    assert "Page 1 of 2" in texts["06-benefits"]  # 9 rows a page in the normal theme
    assert "Are you still there?" in texts["09-idle-warning"]


@pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)
def test_every_screen_fits_a_landscape_window(tmp_path: Path) -> None:
    """A 1920x1080 panel: half the height the screens are drawn for, and nothing clipped."""
    shots = run_gallery(tmp_path, "--theme", "normal", "--language", "en",
                        "--size", "1920x1080")
    assert len(shots) == 17
    assert all(shot["layout"]["window"] == [1920, 1080] for shot in shots.values())
    benefits = shots["06-benefits"]
    assert "Page 1 of 3" in benefits["texts"]  # 6 rows a page in a landscape window
    # The payments table stands beside the insurance cover, not under it.
    widgets = {w.get("text"): w["box"] for w in benefits["layout"]["widgets"]}
    cover, month = widgets["Your insurance cover"], widgets["Month"]
    assert cover[0] + cover[2] <= month[0] and month[1] < cover[1] + cover[3]
