"""Remote commands from the operator's side, through the whole stack: the fleet manager's REST,
Mosquitto, the terminal's real agent process and the real kiosk process (offscreen frames).
Maintenance turns the terminal out of service and back; a screenshot of the idle screen comes
back as a PNG; the kiosk's recent log lines come back masked; a screenshot during a citizen's
session is refused, and nothing of the session leaves the terminal."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from simulators.demo.journey import choose_cast
from simulators.stack.requirements import MissingSystemPackage
from simulators.stack.stack import Stack, StackOptions
from simulators.stack.supervisor import ProcessFailed, Supervisor
from tests.harness.stack import fail_on_missing
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("fleet-remote")
    options = StackOptions(workdir=workdir, with_camera=False, with_qr=False,
                           with_idcard=False, with_printers=False, health_interval_s=1.0)
    with Supervisor(workdir / "logs") as sup:
        try:
            started = Stack(options, sup).start()
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        yield started


def _command(stack: Stack, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send through the manager's REST and wait for the terminal's answer."""
    api = f"{stack.manager.url}/api/v1"
    device = stack.options.device_id
    wait_for(lambda: (d := stack.fleet_client().device(device)) and d["online"],
             "the terminal online at the manager", timeout=60)
    r = httpx.post(f"{api}/devices/{device}/commands",
                   json={"name": name, "args": args or {}, "ttl_s": 120},
                   headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=10)
    assert r.status_code == 202, r.text
    command_id = r.json()["id"]

    def answered() -> dict[str, Any] | None:
        c = httpx.get(f"{api}/commands/{command_id}", timeout=10).json()
        return c if c["status"] not in {"pending", "sent"} else None

    return wait_for(answered, f"the answer to {name}", timeout=60)


def test_maintenance_on_and_off_from_the_manager(stack: Stack) -> None:
    kiosk = stack.kiosk_client()
    kiosk.wait_screen("attract", timeout=60)
    done = _command(stack, "maintenance", {"on": True, "reason": "更换打印纸"})
    assert done["status"] == "ok", done
    kiosk.wait_screen("message")
    texts = httpx.get(f"{stack.kiosk.url}/automation/texts", timeout=30).json()["texts"]
    assert "暂停服务" in texts and "原因：更换打印纸" in texts
    # The agent reports it, and the manager shows it.
    assert kiosk.status()["maintenance"] == {"on": True, "pending": False}

    done = _command(stack, "maintenance", {"on": False})
    assert done["status"] == "ok", done
    kiosk.wait_screen("attract")


def test_a_screenshot_of_the_idle_screen_and_the_kiosk_log(stack: Stack) -> None:
    stack.kiosk_client().wait_screen("attract", timeout=60)
    done = _command(stack, "screenshot")
    assert done["status"] == "ok", done
    png = base64.b64decode(done["output"]["png_b64"])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert (image.width, image.height) == (done["output"]["width"], done["output"]["height"])
    assert image.width <= 960 and len(done["output"]["png_b64"]) <= 48 * 1024

    done = _command(stack, "logs", {"source": "kiosk", "lines": 50})
    assert done["status"] == "ok", done
    lines = done["output"]["lines"]
    assert lines and len(lines) <= 50


def test_no_screenshot_leaves_the_terminal_during_a_session(stack: Stack) -> None:
    kiosk, card = stack.kiosk_client(), stack.card()
    kiosk.wait_screen("attract", timeout=60)
    pensioner = stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)
    card.insert(citizen_index=pensioner["index"])
    try:
        wait_for(lambda: kiosk.status()["session_active"], "the session to open", timeout=60)
        done = _command(stack, "screenshot")
        assert done["status"] != "ok", done
        assert "png_b64" not in done["output"]
        assert "session" in str(done["output"]), done
    finally:
        card.remove()
