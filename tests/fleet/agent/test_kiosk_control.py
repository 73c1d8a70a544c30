"""The kiosk control client against a stub kiosk: token, deadline, bounded answers, one error
type with a short code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.agent.kiosk_control import (
    KioskControl,
    KioskControlError,
    MaintenanceState,
    control_base,
)
from tests.fleet.agent.control_stub import TOKEN, StubKiosk, png_bytes, write_token
from tests.fleet.agent.support import Trickler


@pytest.fixture
def kiosk() -> Iterator[StubKiosk]:
    stub = StubKiosk()
    yield stub
    stub.close()


def _client(kiosk_url: str, tmp_path: Path, timeout_s: float = 5.0) -> KioskControl:
    return KioskControl(kiosk_url, write_token(tmp_path), timeout_s)


def _code(call: object) -> str:
    with pytest.raises(KioskControlError) as info:
        call()  # type: ignore[operator]
    return info.value.code


def test_base_is_the_status_urls_host_and_loopback_only() -> None:
    assert control_base("http://127.0.0.1:8600/status") == "http://127.0.0.1:8600"
    assert control_base("http://localhost:8600/status") == "http://localhost:8600"
    assert control_base("http://[::1]:8600/status") == "http://[::1]:8600"
    for url in ("http://10.1.2.3:8600/status", "http://kiosk.example:8600/status",
                "file:///status"):
        with pytest.raises(KioskControlError) as info:
            control_base(url)
        assert info.value.code == "not-loopback"


def test_maintenance_and_screenshot_with_the_token(tmp_path: Path, kiosk: StubKiosk) -> None:
    client = _client(kiosk.url, tmp_path)
    assert client.maintenance(True, "swap") == MaintenanceState(on=True, pending=False)
    assert client.screenshot(640) == kiosk.screenshot[1]
    assert [(s.path, s.authorization, s.body) for s in kiosk.seen] == [
        ("/control/maintenance", f"Bearer {TOKEN}", {"on": True, "reason": "swap"}),
        ("/control/screenshot", f"Bearer {TOKEN}", {"max_width": 640}),
    ]


def test_the_kiosks_refusals_have_codes(tmp_path: Path, kiosk: StubKiosk) -> None:
    client = _client(kiosk.url, tmp_path)
    kiosk.refuse_screenshot(409, "session-active")
    with pytest.raises(KioskControlError) as info:
        client.screenshot(640)
    assert (info.value.code, info.value.status, info.value.detail) == (
        "session-active", 409, "session-active")
    kiosk.refuse_screenshot(503, "ui-not-ready")
    assert _code(lambda: client.screenshot(640)) == "ui-not-ready"
    kiosk.maintenance = (400, {"error": "reason too long"})
    assert _code(lambda: client.maintenance(True, "")) == "bad-request"
    kiosk.maintenance = (404, {})
    assert _code(lambda: client.maintenance(True, "")) == "not-configured"
    kiosk.maintenance = (500, {})
    assert _code(lambda: client.maintenance(True, "")) == "refused"
    wrong = KioskControl(kiosk.url, write_token(tmp_path, "nope"), 5.0)
    assert _code(lambda: wrong.maintenance(True, "")) == "unauthorized"


def test_bad_or_oversized_answers(tmp_path: Path, kiosk: StubKiosk) -> None:
    client = _client(kiosk.url, tmp_path)
    kiosk.maintenance = (200, {"on": "yes"})
    assert _code(lambda: client.maintenance(True, "")) == "bad-answer"
    kiosk.maintenance = (200, {"on": True, "pending": False, "pad": "x" * 10_000})
    assert _code(lambda: client.maintenance(True, "")) == "too-large"
    kiosk.screenshot = (200, b"<html>not a png</html>", "image/png")
    assert _code(lambda: client.screenshot(640)) == "bad-answer"
    kiosk.screenshot = (200, png_bytes(1280, 800, noisy=True), "image/png")
    assert _code(lambda: client.screenshot(640)) == "too-large"


def test_token_file_problems_send_nothing(tmp_path: Path, kiosk: StubKiosk) -> None:
    assert _code(lambda: KioskControl(kiosk.url, None, 5).maintenance(True, "")) == \
        "not-configured"
    missing = KioskControl(kiosk.url, tmp_path / "absent", 5)
    assert _code(lambda: missing.maintenance(True, "")) == "no-token"
    (tmp_path / "empty").write_text("\n")
    empty = KioskControl(kiosk.url, tmp_path / "empty", 5)
    assert _code(lambda: empty.maintenance(True, "")) == "no-token"
    assert kiosk.seen == []


def test_one_total_deadline_against_a_trickling_kiosk(tmp_path: Path) -> None:
    trickler = Trickler()
    try:
        client = _client(f"http://127.0.0.1:{trickler.port}/status", tmp_path, timeout_s=1.0)
        started = time.monotonic()
        assert _code(lambda: client.maintenance(True, "")) == "unavailable"
        assert time.monotonic() - started < 3.0  # each byte came in time; the whole did not
    finally:
        trickler.close()


def test_nobody_listening_is_unavailable(tmp_path: Path, kiosk: StubKiosk) -> None:
    url = kiosk.url
    kiosk.close()
    assert _code(lambda: _client(url, tmp_path).screenshot(640)) == "unavailable"
