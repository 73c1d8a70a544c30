"""The loopback status endpoint and the automation routes: without a window, then through the
real kiosk process (what the fleet agent reads)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from common.version import __version__
from fleet.agent.health import KioskProbe
from fleet.agent.state import PeripheralMemory
from kiosk.screen_watch import ScreenWatch
from kiosk.status_server import AutomationError, StatusServer
from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.requirements import MissingSystemPackage, require
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised


class FakeAutomation:
    def __init__(self) -> None:
        self.taps: list[str] = []

    def tap(self, target: str, timeout_s: float) -> dict[str, Any]:
        if target != "home.end":
            raise AutomationError(HTTPStatus.NOT_FOUND, "no such button", targets=["home.end"])
        self.taps.append(target)
        return {"target": target, "screen": "ending"}

    def screenshot(self, name: str, timeout_s: float) -> str:
        return f"/shots/{name}.png"

    def texts(self, timeout_s: float) -> dict[str, Any]:
        return {"screen": "home", "texts": ["您好，张*"]}


STATUS = {"app_version": "0.1.0", "device_id": "kiosk-001", "screen": "attract",
          "session_active": False, "peripherals": {"card_reader": {"state": "ok"}}}


@pytest.fixture
def watch() -> ScreenWatch:
    return ScreenWatch("attract")


def serve(watch: ScreenWatch, automation: FakeAutomation | None) -> Iterator[httpx.Client]:
    server = StatusServer("127.0.0.1", 0)
    server.start(lambda: dict(STATUS), watch, automation)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
    server.stop()


@pytest.fixture
def plain(watch: ScreenWatch) -> Iterator[httpx.Client]:
    yield from serve(watch, None)


@pytest.fixture
def automation() -> FakeAutomation:
    return FakeAutomation()


@pytest.fixture
def auto(watch: ScreenWatch, automation: FakeAutomation) -> Iterator[httpx.Client]:
    yield from serve(watch, automation)


def test_status_is_served(plain: httpx.Client) -> None:
    r = plain.get("/status")
    assert r.status_code == 200 and r.json() == STATUS
    assert r.headers["cache-control"] == "no-store"


def test_automation_is_absent_unless_enabled(plain: httpx.Client) -> None:
    assert plain.get("/automation/wait", params={"screen": "attract"}).status_code == 404
    assert plain.post("/automation/tap", json={"target": "home.end"}).status_code == 404
    assert plain.get("/nothing").status_code == 404


def test_wait_returns_as_soon_as_the_screen_shows(auto: httpx.Client,
                                                  watch: ScreenWatch) -> None:
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(auto.get, "/automation/wait",
                              params={"screen": "home", "timeout": 30})
        watch.update("reading", session_active=False)
        watch.update("home", session_active=True)
        r = waiting.result(timeout=30)
    assert r.status_code == 200 and r.json() == {"screen": "home"}


def test_wait_times_out_with_408(auto: httpx.Client) -> None:
    r = auto.get("/automation/wait", params={"screen": "home", "timeout": 0.2})
    assert r.status_code == 408 and r.json()["screen"] == "attract"
    assert auto.get("/automation/wait").status_code == 400
    assert auto.get("/automation/wait", params={"screen": "x", "timeout": "soon"}).status_code \
        == 400


def test_tap_texts_and_screenshot(auto: httpx.Client, automation: FakeAutomation) -> None:
    r = auto.post("/automation/tap", json={"target": "home.end"})
    assert r.status_code == 200 and r.json()["screen"] == "ending"
    assert automation.taps == ["home.end"]
    missing = auto.post("/automation/tap", json={"target": "home.nothing"})
    assert missing.status_code == 404 and missing.json()["targets"] == ["home.end"]
    assert auto.post("/automation/tap", json={}).status_code == 400
    assert auto.post("/automation/tap", content=b"not json").status_code == 400

    assert auto.get("/automation/texts").json() == {"screen": "home", "texts": ["您好，张*"]}
    shot = auto.post("/automation/screenshot", json={"name": "benefits"})
    assert shot.json() == {"path": "/shots/benefits.png"}
    assert auto.post("/automation/screenshot", json={"name": "../etc/x"}).status_code == 400


def test_a_taken_port_fails_loudly() -> None:
    first = StatusServer("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            StatusServer("127.0.0.1", first.port)
    finally:
        first.stop()


def test_screen_watch_counts_changes() -> None:
    watch = ScreenWatch("attract")
    done = threading.Event()

    def waiter() -> None:
        assert watch.wait_for("ending", timeout_s=30)
        done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    watch.update("home", True)
    watch.update("home", True)
    watch.update("ending", False)
    thread.join(30)
    assert done.is_set() and watch.changes == 2 and not watch.session_active


def test_ipv6_loopback_serves_too(watch: ScreenWatch) -> None:
    # Settings accept status_host "::1" for automation: the server must be able to bind it.
    server = StatusServer("::1", 0)
    try:
        server.start(lambda: dict(STATUS), watch, FakeAutomation())
        assert server.url.startswith("http://[::1]:")
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/status").json() == STATUS
            r = client.get("/automation/wait", params={"screen": "attract", "timeout": 0})
            assert r.status_code == 200  # ::1 counts as loopback
    finally:
        server.stop()


def test_a_bad_content_length_is_refused_not_waited_on(watch: ScreenWatch) -> None:
    server = StatusServer("127.0.0.1", 0)
    server.start(lambda: dict(STATUS), watch, FakeAutomation())
    try:
        for value in (b"-1", b"lots"):  # httpx will not send these: a raw socket does
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
                conn.sendall(b"POST /automation/tap HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: " + value + b"\r\n\r\n{}")
                # The connection stays open: a server reading "until the end" would not answer.
                assert conn.recv(64).startswith(b"HTTP/1.1 400 ")
    finally:
        server.stop()


# The real kiosk process: /status reports every kind of the registry as the device file and
# the environment chose them, keeps the contract, and holds nothing personal. --------------------

ID_LIKE = re.compile(r"\d{15,}")
HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")
SCHEMA = json.loads((Path(__file__).resolve().parents[2]
                     / "docs/contracts/kiosk-status.schema.json").read_text())


@pytest.fixture(scope="module")
def kiosk_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("kiosk-status")
    config = tmp / "device.toml"
    config.write_text('[device]\ndevice_id = "kiosk-status-01"\n'
                      '[peripherals]\ncard = "absent"\nqr = "simulated"\nprinter = "real"\n')
    with supervised(tmp / "logs") as sup:
        try:
            require("cjk-font")
            spec = services.kiosk(
                tmp / "kiosk", config=config, device_token="dev1.kiosk-status-01.unused",
                pcscd_env={}, edge_url=f"http://127.0.0.1:{free_port()}",
                # The environment over the file (the stack itself chooses a simulated card).
                extra_env={"KIOSK_PERIPHERALS__FACE": "real", "KIOSK_PERIPHERALS__CARD": "absent"},
            )
            sup.start(spec.spec)
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        yield spec.url


def test_the_real_kiosk_reports_every_kind_as_configured(kiosk_url: str) -> None:
    with httpx.Client(base_url=kiosk_url, timeout=30) as client:
        assert client.get("/automation/wait", params={"screen": "attract"}).status_code == 200
        r = client.get("/status")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    document = r.json()
    assert jsonschema_rs.validator_for(SCHEMA).is_valid(document)
    assert (document["schema"], document["device_id"], document["screen"]) == (
        "hrss.kiosk-status/1", "kiosk-status-01", "attract")
    chosen = {name: (p["impl"], p["state"], p["code"])
              for name, p in document["peripherals"].items()}
    assert chosen == {
        "card_reader": ("absent", "missing", "not-configured"),
        # The simulated scanner's pty and the receipt printer's device file are not there.
        "qr_scanner": ("simulated", "missing", "scanner-missing"),
        "camera": ("absent", "missing", "not-configured"),
        # The engine is built at once and loads its models on first use: ok until then.
        "face": ("real", "ok", "ok"),
        "printer": ("real", "missing", "printer-missing"),
        "pinpad": ("absent", "missing", "not-configured"),
        "idcard_reader": ("absent", "missing", "not-configured"),
        "document_printer": ("absent", "missing", "not-configured"),
    }
    assert not ID_LIKE.search(r.text) and not HAN.search(r.text)


def test_the_agent_reads_the_real_kiosk(kiosk_url: str, tmp_path: Path) -> None:
    probe = KioskProbe(f"{kiosk_url}/status", 10.0, PeripheralMemory(tmp_path), expected=[])
    try:
        report = probe.report()
    finally:
        probe.close()
    assert report.kiosk.reachable and report.kiosk.session_active is False
    assert report.kiosk.app_version == __version__
    assert set(report.peripherals) == {"card_reader", "qr_scanner", "camera", "face",
                                       "printer", "pinpad", "idcard_reader", "document_printer"}
    assert report.peripherals["qr_scanner"].code == "scanner-missing"
