"""HTTP client calls with a TOTAL deadline and a bounded answer: the one home for both.

httpx's timeouts are per operation: a peer that trickles one byte just inside the read timeout
holds a call (a worker thread, a citizen) for as long as it likes, headers included. Here the
network backend clamps each connect, read and write to what is left of the call's `Deadline`,
so the whole exchange ends at its deadline whatever the peer does. The deadline travels in a
context variable: one sync call runs on one thread, and a pooled connection serves one call at
a time. Every client of ours (kiosk -> edge, edge -> central, agent -> kiosk) uses this.
"""

from __future__ import annotations

import contextvars
import functools
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from common.clock import Deadline

_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "http_deadline", default=None
)


class AnswerTooLarge(ValueError):
    """The peer's answer is over the size the caller accepts (declared or actually sent)."""


class DeadlinePassed(TimeoutError):
    """The call's total deadline passed while the answer was still arriving."""


@contextmanager
def within(deadline: Deadline) -> Iterator[Deadline]:
    """Bound every socket operation in this block by `deadline`."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = _current.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        # A socket timeout of 0 would mean "non-blocking", not "none left".
        raise expired("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _BoundedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous sockets, each operation clamped to the current deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _BoundedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _BoundedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One per process: loading the CA bundle costs tens of milliseconds of CPU, on every
    client otherwise (a fleet simulator's thousand downloads, an edge call). A context is
    safe to share between connections and threads once configured."""
    return httpx.create_ssl_context(verify=verify, trust_env=True)


def deadline_transport(
    max_connections: int = 100, max_keepalive: int = 20, verify: ssl.SSLContext | bool = True
) -> httpx.HTTPTransport:
    """httpx's own transport (exception mapping, TLS, keep-alive) over `DeadlineBackend`.

    httpx takes no network backend, so its pool is rebuilt with one, with the arguments it
    would use itself; tests/common/test_http.py fails if a future httpx stops honouring it.
    No proxy from the environment (it would bypass the deadlines and see citizen data); TLS
    trusts SSL_CERT_FILE/SSL_CERT_DIR as usual.
    """
    context = verify if isinstance(verify, ssl.SSLContext) else _ssl_context(verify)
    transport = httpx.HTTPTransport(trust_env=False, verify=context)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    transport._pool = httpcore.ConnectionPool(  # see the docstring
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=DeadlineBackend(),
    )
    return transport


def read_bounded(
    response: httpx.Response, max_bytes: int, deadline: Deadline | None = None
) -> bytes:
    """The whole body of a streamed `response`; AnswerTooLarge past `max_bytes` (decoded, so
    a compressed bomb is bounded too), DeadlinePassed once `deadline` has passed.

    A declared Content-Length over the cap is refused before a byte is read.
    """
    declared = response.headers.get("content-length", "").strip()
    if declared and (not declared.isascii() or not declared.isdigit() or int(declared) > max_bytes):
        raise AnswerTooLarge(f"declared length {declared[:20]!r} over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    # A response built in memory (a test's transport) is read already; the cap still holds.
    # No chunk size: httpx would buffer up to it before yielding, hiding each read from us.
    source = [response.content] if response.is_stream_consumed else response.iter_bytes()
    for chunk in source:
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(f"answer over {max_bytes} bytes")
        chunks.append(chunk)
        # The transport bounds each read; this catches a peer that keeps sending just fast
        # enough, and transports that know no deadlines (tests).
        if deadline is not None and deadline.expired:
            raise DeadlinePassed("the deadline passed while reading the answer")
    return b"".join(chunks)
