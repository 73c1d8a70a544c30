"""Network calls stay off the kiosk's UI thread: the real kiosk process (offscreen, the virtual
card in pcscd + vpcd) against an edge whose answer is held for 10 s.

The hold is a small forwarding proxy in this test between the kiosk and the stack's real edge
(`KIOSK_EDGE_URL` points the kiosk at it): one chosen request waits on a threading.Event for
10 s, then goes on to the edge (or is answered 504, as a gateway that gave up would). While it
waits the test keeps asking the kiosk (taps, /status, /automation/texts): every answer comes
promptly and the screen shows that it is busy. Afterwards the kiosk shows the result, or says
in plain words what went wrong and what to do; a card pulled during the held call ends the
session at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from common.masking import mask_name
from simulators.demo.journey import choose_cast
from simulators.stack.ports import free_port
from simulators.stack.stack import Stack
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

HOLD_S = 10.0
PROMPT_S = 1.0  # a correctness bound for "answers promptly", far above a free UI thread's
PROXY_PORT = free_port()
KIOSK_ENV = {
    "KIOSK_EDGE_URL": f"http://127.0.0.1:{PROXY_PORT}",
    # The kiosk's own deadline for one edge call is 10 s, as long as the hold: a longer one
    # makes "the edge answers after 10 s" the outcome, not a race with the deadline.
    "KIOSK_EDGE_TIMEOUT_S": "20",
}
# Not forwarded either way: the proxy sets its own framing, and httpx has already decoded.
_HOP = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length",
                  "content-encoding", "accept-encoding", "proxy-connection", "upgrade"})


@dataclass
class Hold:
    """One request to hold: the first whose method and path match, while armed."""

    method: str
    path_ends: str
    answer: str = "forward"  # or "504": the gateway gives up after the hold
    holding: threading.Event = field(default_factory=threading.Event)  # the request arrived
    release: threading.Event = field(default_factory=threading.Event)  # set: let it go early
    done: threading.Event = field(default_factory=threading.Event)  # its answer was sent
    held_s: float = 0.0
    status: int = 0  # what the kiosk got
    content: bytes = b""

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path.partition("?")[0].endswith(self.path_ends)


class HoldingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream_known = threading.Event()
        self.upstream = ""
        self.lock = threading.Lock()
        self.armed: Hold | None = None
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status) answered
        self.http = httpx.Client(timeout=30)

    def arm(self, hold: Hold) -> Hold:
        with self.lock:
            self.armed = hold
        return hold

    def take(self, method: str, path: str) -> Hold | None:
        with self.lock:
            hold = self.armed
            if hold is not None and hold.matches(method, path):
                self.armed = None
                return hold
            return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HoldingProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the kiosk's own log says what it asked

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hold = self.server.take(self.command, self.path)
        if hold is not None:
            hold.holding.set()
            began = time.monotonic()
            hold.release.wait(HOLD_S)  # the whole point: the edge takes 10 s to answer
            hold.held_s = time.monotonic() - began
        if hold is not None and hold.answer == "504":
            status, headers = 504, {"Content-Type": "application/problem+json"}
            content = b'{"type":"about:blank","title":"Gateway Timeout","status":504}'
        else:
            status, headers, content = self._forward(body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        self.wfile.flush()
        with self.server.lock:
            self.server.seen.append((self.command, self.path, status))
        if hold is not None:
            hold.status, hold.content = status, content
            hold.done.set()

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not self.server.upstream_known.wait(60):  # the stack names its edge once started
            return 503, {}, b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        try:
            answer = self.server.http.request(self.command, self.server.upstream + self.path,
                                              headers=headers, content=body)
        except httpx.HTTPError:
            return 502, {}, b""
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        return answer.status_code, kept, answer.content

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _relay  # http.server's names


@pytest.fixture(scope="module")
def proxy() -> Iterator[HoldingProxy]:
    server = HoldingProxy(PROXY_PORT)
    thread = threading.Thread(target=server.serve_forever, name="holding-proxy", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    server.http.close()


@pytest.fixture(scope="module")
def stack(proxy: HoldingProxy, stack: Stack) -> Stack:
    """The e2e stack (tests/e2e/conftest.py) with the kiosk talking to the edge through the
    proxy: started first, it learns the edge's address once the stack has chosen it."""
    proxy.upstream = stack.edge.url
    proxy.upstream_known.set()
    return stack


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> dict[str, Any]:
    return stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)


@pytest.fixture
def kiosk(at_rest: Stack) -> Iterator[httpx.Client]:
    """The kiosk's status server, asked directly: the timing of each call is the point."""
    with httpx.Client(base_url=at_rest.kiosk.url, timeout=15) as client:
        yield client


@pytest.fixture
def no_hold(proxy: HoldingProxy) -> Iterator[None]:
    """Whatever a test leaves armed or waiting is let go: the next test starts clean."""
    yield
    with proxy.lock:
        left, proxy.armed = proxy.armed, None
    if left is not None:
        left.release.set()


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


def keep_tapping(kiosk: httpx.Client, hold: Hold, *, absent: str, until: threading.Event,
                 max_rounds: int | None = None) -> list[dict[str, Any]]:
    """Tap, ask /status and read the texts over and over until `until` is set (or after
    `max_rounds`); each call must answer within PROMPT_S. Returns what /status said, the
    screen's texts and when, each round."""
    statuses: list[dict[str, Any]] = []
    slowest = 0.0
    pace = threading.Event()  # never set: a short breath between rounds on 2 loaded cores
    while not until.is_set() and (max_rounds is None or len(statuses) < max_rounds):
        tapped, t1 = _timed(lambda: kiosk.post("/automation/tap", json={"target": absent}))
        status, t2 = _timed(lambda: kiosk.get("/status"))
        texts, t3 = _timed(lambda: kiosk.get("/automation/texts"))
        slowest = max(slowest, t1, t2, t3)
        assert slowest < PROMPT_S, f"a call took {slowest:.2f}s while the edge held its answer"
        # A tap on a button that is not on the busy screen is refused, saying what is there.
        assert tapped.status_code == HTTPStatus.NOT_FOUND, tapped.text
        assert absent not in tapped.json()["targets"]
        assert texts.status_code == HTTPStatus.OK and status.status_code == HTTPStatus.OK
        statuses.append({**status.json(), "texts": "".join(texts.json()["texts"]),
                         "at": time.monotonic()})
        pace.wait(0.05)
    assert hold.holding.is_set()
    return statuses


def _home(stack: Stack, kiosk: httpx.Client, citizen: dict[str, Any]) -> None:
    stack.card().insert(citizen_index=int(citizen["index"]))
    stack.kiosk_client().wait_screen("home", timeout=30)
    assert mask_name(citizen["name"]) in "".join(kiosk.get("/automation/texts").json()["texts"])


def _wait_screen(stack: Stack, screen: str, timeout: float = 30) -> None:
    stack.kiosk_client().wait_screen(screen, timeout=timeout)


def _held_query(stack: Stack, proxy: HoldingProxy, kiosk: httpx.Client, path: str,
                target: str, answer: str = "forward") -> Hold:
    """From home, tap `target` with the proxy holding the edge's answer to GET `path`; return
    once the call is held and the kiosk shows its busy screen (once slower than busy_delay_s)."""
    hold = proxy.arm(Hold("GET", path, answer=answer))
    kiosk.post("/automation/tap", json={"target": target}).raise_for_status()
    wait_for(hold.holding.is_set, f"the {path} call to reach the proxy", timeout=20)
    _wait_screen(stack, "loading", timeout=5)
    return hold


def test_a_held_answer_keeps_the_kiosk_answering_then_shows_the_result(
        stack, proxy, kiosk, citizen, no_hold):
    _home(stack, kiosk, citizen)
    hold = _held_query(stack, proxy, kiosk, "/benefits", "home.benefits")

    rounds = keep_tapping(kiosk, hold, absent="home.benefits", until=hold.done)
    assert hold.held_s >= HOLD_S - 0.5 and hold.status == 200  # it really was held, then sent
    # Busy all along: the loading screen with its words, the session still there.
    during = rounds[:-1] or rounds  # the last round may have seen the answer arrive
    assert rounds[-1]["at"] - rounds[0]["at"] >= HOLD_S - 2  # asked all through the hold
    assert all(r["screen"] == "loading" and r["session_active"] for r in during), during[-1]
    assert all("正在查询" in r["texts"] for r in during)

    _wait_screen(stack, "benefits", timeout=15)
    assert "养老金发放记录" in "".join(stack.kiosk_client().texts())


def test_a_held_answer_that_fails_is_said_plainly_and_the_kiosk_tries_again(
        stack, proxy, kiosk, citizen, no_hold):
    _home(stack, kiosk, citizen)
    hold = _held_query(stack, proxy, kiosk, "/contributions", "home.contributions", answer="504")
    rounds = keep_tapping(kiosk, hold, absent="home.contributions", until=hold.done)
    assert hold.status == 504 and rounds[0]["screen"] == "loading"

    # Not a frozen screen: what happened and what to do, in plain words ...
    _wait_screen(stack, "message", timeout=15)
    said = "".join(stack.kiosk_client().texts())
    assert "服务暂时不可用" in said and "请不要拔卡，稍等一会儿" in said, said
    # ... and the kiosk's own retry, through the proxy again, brings the answer.
    _wait_screen(stack, "contributions", timeout=60)
    assert "缴费记录" in "".join(stack.kiosk_client().texts())


def test_the_card_pulled_during_a_held_call_ends_the_session_at_once(
        stack, proxy, kiosk, citizen, no_hold):
    _home(stack, kiosk, citizen)
    hold = _held_query(stack, proxy, kiosk, "/pension-account", "home.pension-account")

    pulled = time.monotonic()
    stack.card().remove()
    _wait_screen(stack, "attract", timeout=5)
    assert time.monotonic() - pulled < HOLD_S / 2 and not hold.done.is_set()  # not the hold
    status = kiosk.get("/status").json()
    texts = "".join(kiosk.get("/automation/texts").json()["texts"])
    assert status["session_active"] is False
    for needle in (citizen["name"], mask_name(citizen["name"]), citizen["citizen_id"]):
        assert needle not in texts

    # The held answer, let go now, finds the session ended: nothing comes back on screen.
    hold.release.set()
    wait_for(hold.done.is_set, "the held answer to be delivered", timeout=20)
    _wait_screen(stack, "attract", timeout=5)
    assert kiosk.get("/status").json()["session_active"] is False


def test_a_session_opened_after_the_card_was_pulled_is_closed_at_the_edge(
        stack, proxy, kiosk, citizen, no_hold):
    hold = proxy.arm(Hold("POST", "/api/v1/sessions"))
    stack.card().insert(citizen_index=int(citizen["index"]))
    wait_for(hold.holding.is_set, "the session's opening to reach the proxy", timeout=30)
    _wait_screen(stack, "identifying", timeout=5)  # once the edge is slower than busy_delay_s
    rounds = keep_tapping(kiosk, hold, absent="home.benefits", until=hold.done, max_rounds=5)
    assert all(r["screen"] == "identifying" and not r["session_active"] for r in rounds)
    assert not hold.done.is_set()

    stack.card().remove()
    _wait_screen(stack, "attract", timeout=5)
    assert not hold.done.is_set()  # the pull ended it, not the edge's answer
    hold.release.set()
    wait_for(hold.done.is_set, "the held opening to be answered", timeout=20)
    assert hold.status == HTTPStatus.CREATED
    late = f"/api/v1/sessions/{json.loads(hold.content)['session_id']}"
    # The kiosk never shows the late session, and closes it at the edge.
    wait_for(lambda: ("DELETE", late, HTTPStatus.NO_CONTENT) in proxy.seen,
             "the kiosk to end the late session", timeout=20, diagnostics=lambda: str(
                 proxy.seen[-5:]))
    _wait_screen(stack, "attract", timeout=5)
    assert kiosk.get("/status").json()["session_active"] is False
