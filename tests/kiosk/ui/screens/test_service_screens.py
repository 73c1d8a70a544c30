"""The citizen-service screens in a real offscreen window: the services walk of the gallery
(tests/kiosk/services_gallery.py) as a subprocess, its texts, OCR of the Chinese, and the
receipt's QR code read back module by module from the screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image

from tests.harness.ocr import reads
from tests.kiosk.fakes import RECEIPT_NO
from tests.kiosk.test_window import GALLERY_TIMEOUT_S, ocr, run_gallery

# The walk (a module fixture) runs inside the first test's time limit.
pytestmark = pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_gallery(tmp_path_factory.mktemp("services"), "--walk", "services")


def _texts(walk: dict[str, Any]) -> dict[str, str]:
    return {step: " ".join(shot["texts"]) for step, shot in walk.items()}


def test_every_service_screen_renders_with_its_words(walk: dict[str, Any]) -> None:
    texts = _texts(walk)
    assert len(walk) == 20
    assert "社保卡丢了？点这里挂失（不用插卡）" in texts["01-attract-walk-up"]
    assert "11010519491231002X" in texts["02-keypad-citizen-id"]
    pin = texts["03-keypad-pin"]
    assert "●●●●●●" in pin and "135790" not in pin  # the PIN shows as dots only
    assert "110105********002X" in texts["04-confirm-card-loss"]
    assert "将被停用" in texts["04-confirm-card-loss"]
    assert "正在提交" in texts["05-submitting"]
    assert "挂失已办理" in texts["06-receipt-card-loss"]
    assert "申请补贴" in texts["07-home-services"] and "我的申请进度" in texts["07-home-services"]
    assert "失业保险金（暂不能申请）" in texts["08-subsidies"]
    assert "¥1,500.00 · 2026年度 · 可以申请" in texts["08-subsidies"]
    assert "预审通过" in texts["10-precheck-ok"]
    assert "1380****0000" in texts["11-confirm-apply"]
    queued = texts["12-receipt-queued"]
    assert "申请已受理，等待发送" in queued and f"回执编号：{RECEIPT_NO}" in queued
    assert "等待发送到社保中心的申请" in texts["13-applications"]
    history = texts["14-application-history"]
    assert "银行退回" in history and "账户已销户，请到银行核实" in history
    assert "您本年度已申请过该补贴" in texts["15-precheck-refused"]
    assert "继续申请" not in texts["15-precheck-refused"]  # refused by a check that ran
    assert "现在无法预审" in texts["16-precheck-unchecked"]
    assert "这项补贴您已经申请过了" in texts["17-message-duplicate"]
    offer = texts["18-message-card-lost-offer"]
    assert "这张社保卡已挂失" in offer and "卡已找回，解除挂失" in offer
    assert "确认解除挂失" in texts["19-confirm-reversal"]
    assert "110105********002X" in texts["19-confirm-reversal"]  # which card, masked
    assert "已解除挂失" in texts["20-receipt-reversal"]
    # Screens with citizen data are emptied when left: the home screen after the walk-up
    # journey shows nothing of the ID number typed before.
    assert "002X" not in texts["07-home-services"]


def test_the_chinese_is_rendered_not_boxes(walk: dict[str, Any]) -> None:
    receipt = ocr(Path(walk["12-receipt-queued"]["path"]))
    assert reads("申请已受理", receipt) and "回执编号" in receipt, receipt
    keypad = ocr(Path(walk["02-keypad-citizen-id"]["path"]))
    assert reads("请输入18位身份证号码", keypad) and "11010519491231002X" in keypad, keypad


def test_the_receipt_qr_code_reads_back_as_the_receipt(walk: dict[str, Any]) -> None:
    image = Image.open(walk["12-receipt-queued"]["path"]).convert("RGB")
    # Only the QR code is drawn in pure black (text is #1B2430): its box is the symbol.
    black = Image.eval(image.convert("L"), lambda v: 255 if v < 8 else 0)
    box = black.getbbox()
    assert box is not None
    expected = [list(row) for row in segno.make(f"hrss:receipt:{RECEIPT_NO}",
                                                error="m").matrix]
    n = len(expected)
    left, top, right, bottom = box
    cell_w, cell_h = (right - left) / n, (bottom - top) / n
    assert abs(cell_w - cell_h) < 0.5 and cell_w >= 3  # square modules, big enough to scan
    seen = [[image.getpixel((int(left + (c + 0.5) * cell_w), int(top + (r + 0.5) * cell_h)))
             [0] < 128 for c in range(n)] for r in range(n)]
    assert seen == [[bool(m) for m in row] for row in expected]
