"""The certification screens in a real offscreen window (SDL, Mesa): the status and failure
words, the capture screen's live preview (mirrored, refreshed by its Clock, blanked when left)
and the certification receipt.

`python -m tests.kiosk.ui.test_certify_screens OUTDIR` renders them and writes
OUTDIR/certify.json; the tests run it once per module as a subprocess (Kivy's window is a
process-wide singleton and reads the environment at import).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
WIDTH, HEIGHT = 540, 960


# The probe (runs in the child process) ---------------------------------------------------

def _probe(out: Path) -> None:
    import datetime as dt

    import numpy as np

    from kiosk.settings import KioskSettings
    from kiosk.ui import boot

    boot.prepare_environment()
    boot.configure_kivy(KioskSettings(window_width=WIDTH, window_height=HEIGHT,
                                      theme="elder", animations="off"))
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label
    from kivy.uix.screenmanager import NoTransition, ScreenManager

    from drivers.camera.interface import Frame
    from kiosk.edge.certification import CertificationReceipt
    from kiosk.flow.certify_worker import CaptureProgress
    from kiosk.flow.journeys.certify import CaptureView, CertifyInfo
    from kiosk.flow.journeys.steps import Receipted
    from kiosk.flow.screens import ScreenName
    from kiosk.flow.view import Content, View
    from kiosk.i18n import Translator
    from kiosk.ui.frames import after_frames, capture
    from kiosk.ui.screens.base import UiContext
    from kiosk.ui.screens.capture import CaptureScreen
    from kiosk.ui.screens.certify_due import CertifyScreen
    from kiosk.ui.screens.receipt import ReceiptScreen
    from kiosk.ui.theme import rgba, theme_named

    pixels = np.zeros((480, 640, 3), dtype=np.uint8)
    pixels[:, :320] = (220, 30, 30)  # the camera's left half red, its right half blue
    pixels[:, 320:] = (30, 30, 220)
    asked: list[int] = []

    def preview() -> Frame:
        asked.append(len(asked))
        return Frame(pixels, len(asked), 0.0)

    taps: list[str] = []
    manifest: dict[str, Any] = {}
    ctx = UiContext(theme_named("elder"), Translator("zh_CN"), lambda a: taps.append(str(a)),
                    animate=False)
    screens = {s.screen_name: s for s in (CertifyScreen(ctx), CaptureScreen(ctx),
                                          ReceiptScreen(ctx))}
    manager = ScreenManager(transition=NoTransition())
    for screen in screens.values():
        manager.add_widget(screen)

    def texts(screen: Any) -> list[str]:
        found = []
        for widget in screen.walk(restrict=True):
            if isinstance(widget, Label) and widget.text.strip() and widget.opacity > 0:
                node, visible = widget, True
                while node is not None and node is not screen:
                    visible = visible and node.opacity > 0
                    node = node.parent
                if visible and type(widget.parent).__name__ != "Mark":
                    found.extend(line.strip() for line in widget.text.splitlines()
                                 if line.strip())
        return found

    no = "R20261122CERT000001"
    receipt = CertificationReceipt.model_validate({
        "receipt_no": no, "qr": f"hrss:receipt:{no}", "kind": "pension-certification",
        "state": "queued", "submitted_at": "2026-11-22T02:05:00Z",
        "next_due_date": "2027-11-22"})
    capturing = CaptureView("capturing", CaptureProgress("challenge", "nod", 0, 3,
                                                         "move-closer"), 1, 3, preview)
    steps: list[tuple[str, ScreenName, object]] = [
        ("01-due", ScreenName.CERTIFY, CertifyInfo("due", "您本年度的资格认证已到期。",
                                                   dt.date(2026, 12, 31))),
        ("02-not-due", ScreenName.CERTIFY, CertifyInfo("not-due", "2027年9月1日起可以认证。")),
        ("03-preparing", ScreenName.CAPTURE, CaptureView(
            "preparing", CaptureProgress(), 1, 3, preview)),
        ("04-capture-nod", ScreenName.CAPTURE, capturing),
        ("05-failed-two-faces", ScreenName.CERTIFY, CertifyInfo("failed", reason="two-faces",
                                                                attempts_left=2)),
        ("06-failed-spoof-last", ScreenName.CERTIFY, CertifyInfo(
            "failed", reason="flat-photo", attempts_left=0)),
        ("07-receipt", ScreenName.RECEIPT, Receipted(receipt)),
    ]
    state: dict[str, Any] = {"shown": None}

    def show(name: ScreenName, data: object) -> None:
        screen = screens[name]
        if state["shown"] is not screen:
            if state["shown"] is not None:
                state["shown"].stopped()
            manager.current = str(name)
            screen.started()
            state["shown"] = screen
        screen.render(View(screen=name, session_active=True, content=Content("certify", data)))
        for other in screens.values():
            if other is not screen:
                other.clear()

    def step(index: int) -> None:
        if index == len(steps):
            capture_screen = screens[ScreenName.CAPTURE]
            manifest["after-left"] = {
                "asked": len(asked), "sequence": capture_screen.preview.sequence,
                "tick": capture_screen._tick is not None}
            Clock.schedule_once(lambda _dt: finish(), 0.3)
            return
        name, screen_name, data = steps[index]
        show(screen_name, data)
        delay = 0.6 if screen_name is ScreenName.CAPTURE else 0

        def shoot(*_: Any) -> None:
            def done(path: Path) -> None:
                Clock.schedule_once(lambda _dt: step(index + 1), 0)

            screen = screens[screen_name]
            entry = {"screen": str(screen_name), "path": str(out / f"{name}.png"),
                     "texts": texts(screen),
                     "targets": [b.target for b in screen.walk(restrict=True)
                                 if hasattr(b, "target") and b.parent is not None
                                 and b.opacity > 0]}
            if screen_name is ScreenName.CAPTURE:
                entry["drawn"] = screen.preview.frames_drawn
                entry["sequence"] = screen.preview.sequence
                entry["asked"] = len(asked)
                x, y = screen.preview._image.pos
                w, h = screen.preview._image.size
                entry["image_box"] = [x, HEIGHT - y - h, x + w, HEIGHT - y]  # image rows
            manifest[name] = entry
            after_frames(lambda: capture(out / f"{name}.png", done))

        Clock.schedule_once(shoot, delay)

    def finish() -> None:
        manifest["after-left"]["asked_later"] = len(asked)
        manifest["taps"] = taps
        (out / "certify.json").write_text(json.dumps(manifest, ensure_ascii=False))
        App.get_running_app().stop()

    class Probe(App):
        def build(self) -> Any:
            Window.clearcolor = rgba(ctx.theme.palette.background)
            return manager

        def on_start(self) -> None:
            Clock.schedule_once(lambda _dt: step(0), 0.2)

    Probe().run()


# The tests ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.kiosk.test_window import kivy_env

    out = tmp_path_factory.mktemp("certify-screens")
    result = subprocess.run(
        [sys.executable, "-m", "tests.kiosk.ui.test_certify_screens", str(out)], cwd=ROOT,
        env=kivy_env(out / "kivy"), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    manifest: dict[str, Any] = json.loads((out / "certify.json").read_text())
    return manifest


def _text(shots: dict[str, Any], step: str) -> str:
    return " ".join(shots[step]["texts"])


def test_the_status_screens_say_it_plainly(shots: dict[str, Any]) -> None:
    due = _text(shots, "01-due")
    assert "今年的资格认证可以办理了" in due and "本次认证截止日期：2026年12月31日" in due
    assert shots["01-due"]["targets"] == ["certify.back", "certify.start"]
    not_due = _text(shots, "02-not-due")
    assert "现在还不到认证时间" in not_due and "2027年9月1日起可以认证。" in not_due
    assert shots["02-not-due"]["targets"] == ["certify.done"]


def test_the_capture_screen_shows_the_challenge_the_step_and_the_hint(
        shots: dict[str, Any]) -> None:
    assert "请稍候，正在准备…" in _text(shots, "03-preparing")
    nod = _text(shots, "04-capture-nod")
    assert "请慢慢点一下头" in nod and "第1步/共3步" in nod and "请靠近一点" in nod
    assert shots["04-capture-nod"]["targets"] == ["capture.end"]


def test_the_preview_is_live_mirrored_and_blanked_when_left(shots: dict[str, Any]) -> None:
    from PIL import Image

    shot = shots["04-capture-nod"]
    # The Clock asked for frames while the screen showed, and drew the newest one.
    assert shot["drawn"] >= 3 and shot["sequence"] == shot["asked"]
    left, top, right, bottom = shot["image_box"]
    assert right - left > WIDTH * 0.6  # a big preview
    image = Image.open(shot["path"]).convert("RGB")
    y = int((top + bottom) / 2)
    on_left = image.getpixel((int(left + (right - left) * 0.25), y))
    on_right = image.getpixel((int(left + (right - left) * 0.75), y))
    # Mirrored: the camera's right half (blue) shows on the left, as in a mirror.
    assert on_left[2] > 150 and on_left[0] < 80, on_left
    assert on_right[0] > 150 and on_right[2] < 80, on_right
    after = shots["after-left"]
    assert after["sequence"] is None and not after["tick"]
    assert after["asked_later"] == after["asked"]  # nothing reads the camera once it is left


def test_failures_offer_a_retry_then_only_the_counter(shots: dict[str, Any]) -> None:
    two = _text(shots, "05-failed-two-faces")
    assert "请只让一位老人站在屏幕前。" in two and "还可以再试 2 次" in two
    assert shots["05-failed-two-faces"]["targets"] == ["certify.counter", "certify.retry"]
    last = _text(shots, "06-failed-spoof-last")
    assert "未能完成认证" in last and "请到服务窗口办理。" in last
    assert "照片" not in last and "欺诈" not in last  # never an accusation
    assert shots["06-failed-spoof-last"]["targets"] == ["certify.counter"]


def test_the_receipt_is_the_certifications(shots: dict[str, Any]) -> None:
    text = _text(shots, "07-receipt")
    assert "资格认证已完成，等待发送" in text and "回执编号：R20261122CERT000001" in text
    assert "下次认证：2027年11月22日" in text


# The whole app: a live persona certifies (tests/kiosk/ui/certify_walk.py) ---------------------

@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.kiosk.test_window import kivy_env

    out = tmp_path_factory.mktemp("certify-walk")
    result = subprocess.run(
        [sys.executable, "-m", "tests.kiosk.ui.certify_walk", str(out)], cwd=ROOT,
        env=kivy_env(out / "kivy"), capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    manifest: dict[str, Any] = json.loads((out / "certify-walk.json").read_text())
    return manifest


def test_a_live_person_certifies_in_the_app(walk: dict[str, Any]) -> None:
    from common import signing

    assert "养老金资格认证" in " ".join(walk["home"]["texts"])  # offered: camera + face here
    shots = walk["shots"]
    assert "今年的资格认证可以办理了" in " ".join(shots["01-certify-due"]["texts"])
    capture = " ".join(shots["02-capture-challenge"]["texts"])
    # The live person moves on by themselves: the picture may catch any of the three steps.
    assert re.search(r"第[123]步/共3步", capture) and "请" in capture
    challenges = [k for k in walk["said"] if k.startswith("certify.challenge.")]
    assert len(challenges) == 3 and len(set(challenges)) == 3  # each spoken once, in turn
    assert walk["said"].index("capture.title") < walk["said"].index(challenges[0])
    assert walk["preview_frames"] > 0
    receipt = " ".join(shots["03-receipt"]["texts"])
    assert "资格认证已完成，等待发送" in receipt and "下次认证：2027年11月22日" in receipt
    ((submitted),) = walk["submitted"]
    record = submitted["record"]
    assert record["evidence_sha256"] == submitted["sha"] and record["method"] == "hall"
    assert signing.verify(walk["public_key"], record, record["signature"])


if __name__ == "__main__":
    _probe(Path(sys.argv[1]))
