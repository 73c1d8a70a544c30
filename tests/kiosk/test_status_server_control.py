"""The fleet agent's control routes on the status server, without a window: present only with a
token file, loopback only, bearer token compared in constant time, every body validated (a
client never gets a 5xx), and the answers the agent's client (fleet/agent/kiosk_control.py)
relies on."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.screen_watch import ScreenWatch
from kiosk.status_server import (
    MAX_CONTROL_BODY,
    SESSION_ACTIVE,
    UI_NOT_READY,
    AutomationError,
    StatusServer,
)

TOKEN = "s3cr3t-control-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class FakeControl:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.on = False
        self.busy = False  # a citizen is being served
        self.ready = True

    def maintenance(self, on: bool, reason: str, timeout_s: float) -> dict[str, bool]:
        self.calls.append(("maintenance", on, reason))
        self.on = on
        return {"on": on, "pending": on and self.busy}

    def screenshot_png(self, max_width: int, timeout_s: float) -> bytes:
        self.calls.append(("screenshot", max_width))
        if not self.ready:
            raise AutomationError(HTTPStatus.SERVICE_UNAVAILABLE, UI_NOT_READY)
        if self.busy:
            raise AutomationError(HTTPStatus.CONFLICT, SESSION_ACTIVE)
        return PNG


@pytest.fixture
def control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "control.token"
    path.write_text(f"  {TOKEN}\n")  # whitespace around it is not part of the token
    return path


def _serve(control: FakeControl | None, token_file: Path | None) -> Iterator[StatusServer]:
    server = StatusServer("127.0.0.1", 0)
    server.start(lambda: {"schema": "hrss.kiosk-status/1"}, ScreenWatch("attract"),
                 control=control, control_token_file=token_file)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(control: FakeControl, token_file: Path) -> Iterator[StatusServer]:
    yield from _serve(control, token_file)


@pytest.fixture
def client(server: StatusServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_maintenance_on_and_off(client: httpx.Client, control: FakeControl) -> None:
    r = client.post("/control/maintenance", json={"on": True, "reason": "  更换打印纸 "})
    assert r.status_code == 200 and r.json() == {"on": True, "pending": False}
    control.busy = True
    assert client.post("/control/maintenance", json={"on": True}).json() == {
        "on": True, "pending": True}
    assert client.post("/control/maintenance", json={"on": False}).json()["on"] is False
    assert control.calls == [("maintenance", True, "更换打印纸"), ("maintenance", True, ""),
                             ("maintenance", False, "")]


def test_screenshot_answers_png_409_and_503(client: httpx.Client, control: FakeControl) -> None:
    r = client.post("/control/screenshot", json={"max_width": 64})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == PNG and r.headers["cache-control"] == "no-store"
    control.busy = True
    r = client.post("/control/screenshot", json={"max_width": 1920})
    assert r.status_code == 409 and r.json() == {"error": "session-active"}
    control.busy, control.ready = False, False
    r = client.post("/control/screenshot", json={"max_width": 300})
    assert r.status_code == 503 and r.json() == {"error": "ui-not-ready"}
    assert [c[1] for c in control.calls] == [64, 1920, 300]


@pytest.mark.parametrize("configured", ["no token file", "no control"])
def test_the_routes_are_absent_unless_configured(
    configured: str, control: FakeControl, token_file: Path
) -> None:
    served = _serve(None, token_file) if configured == "no control" else _serve(control, None)
    server = next(served)
    try:
        with httpx.Client(base_url=server.url, timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            assert c.post("/control/maintenance", json={"on": True}).status_code == 404
            assert c.post("/control/screenshot", json={"max_width": 100}).status_code == 404
            assert c.get("/status").status_code == 200
    finally:
        served.close()
    assert control.calls == []


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
    "Bearer wrong", f"bearer  {TOKEN} extra", "Bearer 令牌",
])
def test_a_wrong_or_missing_token_is_401(server: StatusServer, control: FakeControl,
                                         authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for path, body in (("/control/maintenance", {"on": True}),
                           ("/control/screenshot", {"max_width": 100})):
            r = c.post(path, json=body,
                       headers={k: v.encode() for k, v in headers.items()})  # type: ignore[misc]
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    assert control.calls == []


def test_the_scheme_is_case_insensitive_and_a_rotated_token_applies_at_once(
    server: StatusServer, control: FakeControl, token_file: Path
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        ok = c.post("/control/maintenance", json={"on": False},
                    headers={"Authorization": f"bearer {TOKEN}"})
        assert ok.status_code == 200
        token_file.write_text("rotated\n")
        old = c.post("/control/maintenance", json={"on": False},
                     headers={"Authorization": f"Bearer {TOKEN}"})
        new = c.post("/control/maintenance", json={"on": False},
                     headers={"Authorization": "Bearer rotated"})
    assert (old.status_code, new.status_code) == (401, 200)


@pytest.mark.parametrize("content", ["", "   \n", None, "x" * 5000])
def test_an_empty_missing_or_oversized_token_file_lets_nobody_in(
    control: FakeControl, tmp_path: Path, content: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "control.token"
    if content is not None:
        path.write_text(content)
    served = _serve(control, path)
    server = next(served)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for auth in ("Bearer", f"Bearer {content or ''}".strip(), f"Bearer {TOKEN}"):
                r = c.post("/control/maintenance", json={"on": True},
                           headers={"Authorization": auth})
                assert r.status_code == 401
    finally:
        served.close()
    assert control.calls == []
    assert caplog.text.count("control requests refused") == 1  # once, not per request


@pytest.mark.parametrize(("path", "body"), [
    ("/control/maintenance", b"not json"),
    ("/control/maintenance", b"[true]"),
    ("/control/maintenance", b"\xff\xfe"),
    ("/control/maintenance", b"[" * 3000 + b"]" * 1000),  # nested too deep for json
    ("/control/maintenance", b"{}"),
    ("/control/maintenance", json.dumps({"on": "yes"}).encode()),
    ("/control/maintenance", json.dumps({"on": 1}).encode()),
    ("/control/maintenance", json.dumps({"on": None}).encode()),
    ("/control/maintenance", json.dumps({"on": True, "reason": "r" * 201}).encode()),
    ("/control/maintenance", json.dumps({"on": True, "reason": 5}).encode()),
    ("/control/maintenance", json.dumps({"on": True, "reason": "a\x00b"}).encode()),
    ("/control/maintenance", json.dumps({"on": True, "reason": "\u202eevil"}).encode()),
    ("/control/maintenance", json.dumps({"on": True, "until": 5}).encode()),
    ("/control/screenshot", json.dumps({"max_width": 63}).encode()),
    ("/control/screenshot", json.dumps({"max_width": 1921}).encode()),
    ("/control/screenshot", json.dumps({"max_width": "100"}).encode()),
    ("/control/screenshot", json.dumps({"max_width": 100.5}).encode()),
    ("/control/screenshot", json.dumps({"max_width": True}).encode()),
    ("/control/screenshot", json.dumps({"max_width": 10**30}).encode()),
    ("/control/screenshot", json.dumps({"max_width": 100, "name": "x"}).encode()),
])
def test_a_bad_body_is_400_and_never_reaches_the_ui(client: httpx.Client, control: FakeControl,
                                                    path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert control.calls == []
    assert "evil" not in r.text and "rrrr" not in r.text  # field names, never the values


def test_a_reason_of_200_characters_is_taken_as_one_line(client: httpx.Client,
                                                         control: FakeControl) -> None:
    r = client.post("/control/maintenance", json={"on": True, "reason": "维" * 200})
    assert r.status_code == 200
    r = client.post("/control/maintenance", json={"on": True, "reason": "换纸\n\t 约 10 分钟 "})
    assert r.status_code == 200
    assert control.calls == [("maintenance", True, "维" * 200),
                             ("maintenance", True, "换纸 约 10 分钟")]


def test_an_unknown_control_route_is_404(client: httpx.Client) -> None:
    assert client.post("/control/reboot", json={}).status_code == 404
    assert client.get("/control/maintenance").status_code == 404


def test_a_body_over_4_kib_is_refused_unread(server: StatusServer,
                                             control: FakeControl) -> None:
    body = json.dumps({"on": True, "reason": "x" * MAX_CONTROL_BODY}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        # Only the headers are sent: a server that read the body would wait and not answer.
        conn.sendall(b"POST /control/maintenance HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        assert conn.recv(64).startswith(b"HTTP/1.1 413 ")
    assert control.calls == []


def _from(address: str, server: StatusServer, request: bytes) -> bytes:
    """`request` handled as if it came from `address` (a socket pair: no network needed)."""
    handler = server._httpd.RequestHandlerClass
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(request)
        ours.shutdown(socket.SHUT_WR)
        handler(theirs, (address, 40000), server._httpd)
        theirs.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := ours.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("address", ["192.0.2.7", "10.0.0.5", "::ffff:192.0.2.7", "fe80::1"])
def test_only_loopback_clients_are_served(server: StatusServer, control: FakeControl,
                                          address: str) -> None:
    body = b'{"on": true}'
    request = (b"POST /control/maintenance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert _from(address, server, request).startswith(b"HTTP/1.1 403 ")
    assert control.calls == []
    assert _from("127.0.0.1", server, request).startswith(b"HTTP/1.1 200 ")  # the same request
    assert control.calls == [("maintenance", True, "")]


def test_the_token_file_is_a_kiosk_setting_from_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.settings import KioskSettings

    monkeypatch.delenv("KIOSK_CONTROL_TOKEN_FILE", raising=False)
    monkeypatch.delenv("HRSS_CONFIG", raising=False)
    assert KioskSettings().control_token_file is None  # off unless provisioned
    config = tmp_path / "device.toml"
    config.write_text('[kiosk]\ncontrol_token_file = "/etc/hrss-kiosk/control.token"\n')
    assert KioskSettings.load(config).control_token_file == Path("/etc/hrss-kiosk/control.token")
    monkeypatch.setenv("KIOSK_CONTROL_TOKEN_FILE", str(tmp_path / "t"))
    assert KioskSettings.load(config).control_token_file == tmp_path / "t"
