"""Remote maintenance through the real kiosk process (offscreen SDL, real frames): the control
routes the fleet agent calls turn the terminal out of service without cutting a citizen, and a
screenshot leaves the terminal only while nobody is served."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from simulators.demo.journey import choose_cast
from simulators.stack.requirements import MissingSystemPackage
from simulators.stack.stack import Stack, StackOptions
from simulators.stack.supervisor import ProcessFailed, Supervisor
from tests.harness.stack import fail_on_missing

pytestmark = pytest.mark.e2e

TOKEN = "e2e-control-token-5f1c"
OUT_OF_SERVICE = "暂停服务"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("maintenance")
    token_file = workdir / "control.token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    options = StackOptions(
        workdir=workdir, with_fleet=False, with_camera=False, with_qr=False,
        with_idcard=False, with_printers=False,
        kiosk_env={"KIOSK_CONTROL_TOKEN_FILE": str(token_file)},
    )
    with Supervisor(workdir / "logs") as sup:
        try:
            started = Stack(options, sup).start()
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        yield started


@pytest.fixture
def control(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.kiosk.url, timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
    stack.card().remove()


def _maintenance(control: httpx.Client, on: bool, reason: str = "") -> dict[str, Any]:
    r = control.post("/control/maintenance", json={"on": on, "reason": reason})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _on_screen(stack: Stack) -> dict[str, Any]:
    r = httpx.get(f"{stack.kiosk.url}/automation/texts", timeout=30)
    assert r.status_code == 200
    return dict(r.json())


def test_maintenance_waits_for_the_citizen_and_off_returns_to_attract(
    stack: Stack, control: httpx.Client
) -> None:
    kiosk, card = stack.kiosk_client(), stack.card()
    kiosk.wait_screen("attract", timeout=60)

    # Idle: out of service at once, the reason in plain words, nothing to tap.
    assert _maintenance(control, True, "更换打印纸") == {"on": True, "pending": False}
    kiosk.wait_screen("message")
    shown = _on_screen(stack)
    assert OUT_OF_SERVICE in shown["texts"] and "原因：更换打印纸" in shown["texts"]
    assert shown["targets"] == []
    assert kiosk.status()["maintenance"] == {"on": True, "pending": False}

    assert _maintenance(control, False) == {"on": False, "pending": False}
    kiosk.wait_screen("attract")
    assert OUT_OF_SERVICE not in _on_screen(stack)["texts"]

    # A citizen in session is not cut: pending until they are done.
    pensioner = stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)
    card.insert(citizen_index=pensioner["index"])
    kiosk.wait_screen("home", timeout=40)
    assert _maintenance(control, True, "系统升级") == {"on": True, "pending": True}
    status = kiosk.status()
    assert status["maintenance"] == {"on": True, "pending": True}
    assert status["session_active"] is True and status["screen"] == "home"
    assert OUT_OF_SERVICE not in _on_screen(stack)["texts"]
    kiosk.tap("home.benefits")  # the citizen carries on
    kiosk.wait_screen("benefits", timeout=40)

    card.remove()  # the session ends: now the screen shows
    kiosk.wait_screen("message")
    assert OUT_OF_SERVICE in _on_screen(stack)["texts"]
    status = kiosk.status()
    assert status["maintenance"] == {"on": True, "pending": False}
    # The session's calls reached the edge: /status says so.
    assert status["edge"]["reachable"] is True and status["edge"]["checked_at"] > 0
    assert "outbox" not in status  # the hall kiosk has no local queue

    assert _maintenance(control, False)["on"] is False
    kiosk.wait_screen("attract")


def test_a_screenshot_is_a_png_of_the_asked_width_idle_and_409_in_session(
    stack: Stack, control: httpx.Client
) -> None:
    kiosk, card = stack.kiosk_client(), stack.card()
    kiosk.wait_screen("attract", timeout=60)
    r = control.post("/control/screenshot", json={"max_width": 270})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert len(r.content) <= 2 * 1024 * 1024
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "PNG" and image.width == 270
    window_w, window_h = 1080, 1920  # the kiosk's default panel
    assert image.height == round(window_h * 270 / window_w)
    darkest, lightest = image.convert("L").getextrema()
    assert lightest - darkest > 64  # a rendered frame (text on a background), not a blank one

    pensioner = stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)
    card.insert(citizen_index=pensioner["index"])
    kiosk.wait_screen("home", timeout=40)
    r = control.post("/control/screenshot", json={"max_width": 270})
    assert r.status_code == 409 and r.json() == {"error": "session-active"}
    card.remove()
    kiosk.wait_screen("attract")
    assert not list(Path(stack.options.workdir).rglob("*.png"))  # nothing written to disk
