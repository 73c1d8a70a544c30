"""Issue 8's screens in a real offscreen window: the gallery's `ways` walk
(tests/kiosk/ways_gallery.py) as a subprocess, its texts, OCR of the Chinese, and the
certificate screen's QR code read back module by module as the certificate's verify URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image

from tests.harness.ocr import reads
from tests.kiosk.device_fakes import CODE, VERIFY_URL
from tests.kiosk.test_window import GALLERY_TIMEOUT_S, ocr, run_gallery

# The walk (a module fixture) runs inside the first test's time limit.
pytestmark = pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_gallery(tmp_path_factory.mktemp("ways"), "--walk", "ways")


def _texts(walk: dict[str, Any]) -> dict[str, str]:
    return {step: " ".join(shot["texts"]) for step, shot in walk.items()}


def test_the_other_ways_in_are_offered_and_bad_tokens_explained(walk: dict[str, Any]) -> None:
    texts = _texts(walk)
    assert len(walk) == 18
    identifying = texts["03b-identifying-qr"]
    assert "正在向社保平台核实" in identifying and "不要拔卡" not in identifying
    attract = texts["01-attract-ways"]
    assert "电子社保卡" in attract and "扫码器" in attract and "身份证读卡区" in attract
    assert "这个二维码已经用过了" in texts["02-message-qr-used"]
    assert "不是给本机的" in texts["03-message-qr-other-terminal"]
    psam = texts["09-message-needs-psam-ways"]
    assert "第三代卡" in psam and "出示电子社保卡二维码" in psam and "身份证读卡区" in psam
    assert "号码会自动填好" in texts["10-keypad-id-number-or-idcard"]
    assert "社保服务密码" in texts["11-keypad-pin-after-idcard"]  # the ID card typed the number
    # A QR session: the services without the card's own, and no card to take back.
    home_qr = texts["04-home-qr"]
    assert "打印参保证明" in home_qr and "修改社保卡密码" not in home_qr
    assert "退卡" not in home_qr
    assert "修改社保卡密码" in texts["12-home-card"]


def test_printing_shows_progress_the_code_and_paper_out(walk: dict[str, Any]) -> None:
    texts = _texts(walk)
    assert "正在打印参保证明" in texts["05-printing"]
    done = texts["06-certificate-done"]
    assert "证明已打印，请取走" in done and f"验证码：{CODE}" in done
    held = texts["07-certificate-held"]
    assert "纸用完了，打印中断" in held and "【重印】" in held and "重新打印（标明重印）" in held
    assert "证明已打印" in texts["08-certificate-reprinted"]
    assert "证明已打印" in texts["17-certificate-after-pin"]


def test_the_pin_keypad_is_masked_counts_tries_and_explains_locking(walk: dict[str, Any]) -> None:
    texts = _texts(walk)
    old = texts["13-pin-old"]
    assert "●●●●" in old and "0000" not in old and "还可以输错 3 次" in old
    wrong = texts["14-pin-wrong"]
    assert "密码不对。还可以再试 2 次" in wrong
    assert "还可以输错" not in wrong  # one notice: the warning says the tries, no banner too
    locked = texts["15-pin-locked"]
    assert "社保卡密码已被锁定" in locked and "社保经办窗口" in locked
    assert "pin.key" not in locked and "删除" not in locked  # no keys on a locked card
    verify = texts["16-pin-before-certificate"]
    assert "请输入社保卡密码" in verify and "●●●●●●" in verify and "135790" not in verify
    # The PIN screen holds nothing once left.
    assert "●" not in texts["17-certificate-after-pin"]


def test_the_chinese_is_rendered_not_boxes(walk: dict[str, Any]) -> None:
    held = ocr(Path(walk["07-certificate-held"]["path"]))
    assert reads("纸用完了", held), held
    locked = ocr(Path(walk["15-pin-locked"]["path"]))
    assert reads("密码已被锁定", locked), locked


def test_the_certificate_qr_code_reads_back_as_its_verify_url(walk: dict[str, Any]) -> None:
    image = Image.open(walk["06-certificate-done"]["path"]).convert("RGB")
    black = Image.eval(image.convert("L"), lambda v: 255 if v < 8 else 0)
    box = black.getbbox()
    assert box is not None
    expected = [list(row) for row in segno.make(VERIFY_URL, error="m").matrix]
    n = len(expected)
    left, top, right, bottom = box
    cell_w, cell_h = (right - left) / n, (bottom - top) / n
    assert abs(cell_w - cell_h) < 0.5 and cell_w >= 3
    seen = [[image.getpixel((int(left + (c + 0.5) * cell_w), int(top + (r + 0.5) * cell_h)))
             [0] < 128 for c in range(n)] for r in range(n)]
    assert seen == [[bool(m) for m in row] for row in expected]
