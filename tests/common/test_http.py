"""Every socket operation bounded by the call's total deadline, against real TCP peers."""

import gzip
import socket
import time

import httpx
import pytest

from common.clock import Deadline
from common.http import AnswerTooLarge, DeadlinePassed, deadline_transport, read_bounded, within
from tests.harness.trickle import HEADERS, peer


@pytest.fixture
def http():
    with httpx.Client(transport=deadline_transport(), timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_trickled_answer_ends_at_the_deadline(http, where):
    # 1000 bytes at one per 0.2 s would take 200 s; each read alone is well inside the timeout.
    kwargs = {"head": HEADERS, "send": b"x" * 1000} if where == "body" else {"send": HEADERS}
    with peer(every_s=0.2, **kwargs) as url:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException), within(Deadline(0.6)):
            http.get(url)
        assert time.monotonic() - started < 3.0, "the deadline, not the peer, ended the call"


def test_a_silent_peer_fails_at_the_deadline_not_the_read_timeout():
    with peer(send=b" ", every_s=60) as url, httpx.Client(
        transport=deadline_transport(), timeout=httpx.Timeout(30.0)
    ) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout), within(Deadline(0.5)):
            http.get(url)
        assert time.monotonic() - started < 5.0


def test_outside_a_deadline_the_transport_is_httpx_own(http):
    body = b'{"status":"ok"}'
    head = (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body))
    with peer(send=b"", every_s=0, head=head + body) as url:
        with within(Deadline(5.0)):
            assert http.get(url).json() == {"status": "ok"}
        assert http.get(url).json() == {"status": "ok"}  # the scope ended with its block


def test_an_expired_deadline_refuses_before_connecting(http):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with within(Deadline(0.0)), pytest.raises(httpx.ConnectTimeout):
            http.get(url)


def _response(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


def test_read_bounded_reads_up_to_the_cap():
    assert read_bounded(_response(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(AnswerTooLarge):
        read_bounded(_response(b"x" * 101), 100)


@pytest.mark.parametrize("declared", ["1000000", "-1", "1e9", " 12x"])
def test_read_bounded_refuses_a_bad_or_large_declared_length_unread(declared):
    with pytest.raises(AnswerTooLarge):
        read_bounded(_response(b"x", **{"content-length": declared}), 100)


def test_read_bounded_counts_decoded_bytes_so_a_gzip_bomb_is_bounded():
    bomb = gzip.compress(b"\0" * 1_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(AnswerTooLarge):
        read_bounded(_response(bomb, **{"content-encoding": "gzip"}), 100_000)


def test_read_bounded_stops_once_the_deadline_has_passed():
    with pytest.raises(DeadlinePassed):
        read_bounded(_response(b"x" * 10), 100, Deadline(0.0))
