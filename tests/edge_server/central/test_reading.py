"""Bodies read with a cap (declared or streamed), no inflation, and the deadline between reads."""

import httpx
import pytest

from common.clock import Deadline
from edge_server.central import BadAnswer, CentralUnavailable
from edge_server.central.reading import media_type, read_body


def streamed(chunks, headers=None) -> httpx.Response:
    return httpx.Response(200, headers=headers or {}, stream=httpx.ByteStream(b"")
                          if not chunks else _Stream(chunks))


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks) -> None:
        self.chunks = chunks
        self.sent = 0

    def __iter__(self):
        for chunk in self.chunks:
            self.sent += 1
            yield chunk


def test_a_body_within_the_cap_is_read_whole():
    assert read_body(streamed([b"ab", b"cd"]), 4, Deadline(10)) == b"abcd"


def test_a_streamed_body_stops_at_the_cap():
    stream = _Stream(b"x" * 1000 for _ in range(10_000))  # 10 MB, never all in memory
    response = httpx.Response(200, stream=stream)
    with pytest.raises(BadAnswer, match="body over the cap"):
        read_body(response, 4096, Deadline(10))
    assert stream.sent == 5, "stopped at the first chunk past the cap"


@pytest.mark.parametrize("declared", ["300000000", "-1", "12abc"])
def test_a_declared_length_over_the_cap_or_malformed_is_refused_unread(declared):
    stream = _Stream([b"x"])
    response = httpx.Response(200, headers={"content-length": declared}, stream=stream)
    with pytest.raises(BadAnswer):
        read_body(response, 4096, Deadline(10))
    assert stream.sent == 0


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_a_compressed_body_is_refused_not_inflated(encoding):
    response = httpx.Response(200, headers={"content-encoding": encoding},
                              stream=_Stream([b"\x1f\x8b"]))
    with pytest.raises(BadAnswer, match="content-encoding"):
        read_body(response, 4096, Deadline(10))


def test_the_deadline_is_checked_between_reads():
    now = [0.0]

    def chunks():
        for _ in range(100):
            now[0] += 1.0  # each chunk takes a second of the fake clock
            yield b"x"

    response = httpx.Response(200, stream=_Stream(chunks()))
    with pytest.raises(CentralUnavailable, match="deadline"):
        read_body(response, 4096, Deadline(5, clock=lambda: now[0]))
    assert now[0] == 5.0


def test_media_type_drops_parameters_and_case():
    assert media_type(httpx.Response(200, headers={
        "content-type": "Application/JSON; charset=utf-8"})) == "application/json"
    assert media_type(httpx.Response(200)) == ""
