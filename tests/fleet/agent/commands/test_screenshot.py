"""`screenshot`: the kiosk's PNG, scaled down to fit; the kiosk's refusals said plainly."""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

import pytest
from PIL import Image

from fleet.agent.commands.screenshot import MAX_PNG_B64_BYTES
from fleet.agent.shell_commands import fit_png
from fleet.protocol import CommandStatus, encode
from fleet.protocol.limits import MAX_PAYLOAD_BYTES
from tests.fleet.agent.commands.support import answer, command, settings_for, work
from tests.fleet.agent.control_stub import StubKiosk, png_bytes


def _image(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)), formats=["PNG"])


def test_core_takes_no_arguments() -> None:
    assert answer(encode(command("screenshot", path="/x"))).status is CommandStatus.REJECTED


def test_a_small_screenshot_comes_back_whole(tmp_path: Path, kiosk: StubKiosk) -> None:
    result = work(settings_for(tmp_path, kiosk, screenshot_max_width=800), command("screenshot"))
    assert result.status is CommandStatus.OK
    assert (result.output["width"], result.output["height"]) == (320, 200)
    assert _image(result.output["png_b64"]).size == (320, 200)
    assert kiosk.control_requests("/control/screenshot")[0].body == {"max_width": 800}


def test_a_large_one_is_scaled_down_to_fit(tmp_path: Path, kiosk: StubKiosk) -> None:
    kiosk.screenshot = (200, png_bytes(960, 600, noisy=True), "image/png")
    assert len(base64.b64encode(kiosk.screenshot[1])) > 10 * MAX_PNG_B64_BYTES
    result = work(settings_for(tmp_path, kiosk), command("screenshot"))
    out = result.output
    assert len(out["png_b64"]) <= MAX_PNG_B64_BYTES
    assert len(encode(result)) <= MAX_PAYLOAD_BYTES
    image = _image(out["png_b64"])
    assert image.size == (out["width"], out["height"])
    assert 32 <= out["width"] < 960
    assert abs(out["width"] / out["height"] - 1.6) < 0.05  # the aspect ratio is kept


def test_refused_during_a_session_and_before_the_ui(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk)
    kiosk.refuse_screenshot(409, "session-active")
    refused = work(settings, command("screenshot", cid="p-1"))
    assert (refused.status, refused.output["error"]) == (CommandStatus.ERROR, "session-active")
    assert "png_b64" not in refused.output
    kiosk.refuse_screenshot(503, "ui-not-ready")
    assert work(settings, command("screenshot", cid="p-2")).output["error"] == "ui-not-ready"


def test_not_a_png_is_refused(tmp_path: Path, kiosk: StubKiosk) -> None:
    kiosk.screenshot = (200, b"GIF89a....", "image/png")
    result = work(settings_for(tmp_path, kiosk), command("screenshot"))
    assert result.output["error"] == "bad-answer"


def _claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims `width` x `height` pixels."""
    png = png_bytes(1, 1)
    body = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + png[24:29]
    return png[:8] + (13).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big") \
        + png[33:]


@pytest.mark.parametrize(("size", "why"), [(5_000, "too large"), (50_000, "usable")])
def test_fit_png_refuses_a_decompression_bomb(size: int, why: str) -> None:
    # Refused from the header, before a pixel is decoded.
    with pytest.raises(ValueError, match=why):
        fit_png(_claiming(size, size), MAX_PNG_B64_BYTES)


def test_not_even_asked_while_the_status_reports_a_session(
    tmp_path: Path, kiosk: StubKiosk
) -> None:
    kiosk.session(True)
    result = work(settings_for(tmp_path, kiosk), command("screenshot"))
    assert result.output == {"error": "session-active"}
    assert kiosk.control_requests("/control/screenshot") == []
