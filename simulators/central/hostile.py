"""Hostile answers: the contract's answer, mangled the way `Faults.hostile` says.

Bodies that are large or slow are streamed, never built in memory; a caller that hangs up
stops the stream (Starlette cancels it on disconnect).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from simulators.central.faults import Faults

JSON = "application/json"
CHUNK = 64 * 1024
FAR_FUTURE_DAY = "2999-01-01"


def respond(faults: Faults, answer: BaseModel) -> Response:
    """`answer` as the contract says, or as the current hostile mode mangles it."""
    mode = faults.hostile
    if mode == "bare-404":
        return PlainTextResponse("Not Found", status_code=404)
    data = answer.model_dump(mode="json")
    body = _dumps(_out_of_range(data) if mode == "out-of-range" else data)
    streams: dict[str, Callable[[], AsyncIterator[bytes]]] = {
        "trickle": lambda: _trickle(body, faults.trickle_interval_ms / 1000),
        "oversized": lambda: _padded(body, faults.oversized_bytes),
        "deep-nesting": lambda: _nested(body, faults.nesting_depth),
    }
    if mode in streams:
        return StreamingResponse(streams[mode](), media_type=JSON)
    if mode == "invalid-utf8":
        body = _invalid_utf8(body)
    media_type = "text/html" if mode == "wrong-content-type" else JSON
    return deliver(faults, body, media_type)


def deliver(faults: Faults, body: bytes, media_type: str = JSON) -> Response:
    """`body` at once, or trickled over `slow_body_ms` (with its length announced, so only a
    total deadline tells a slow answer from a complete one)."""
    if not faults.slow_body_ms:
        return Response(body, media_type=media_type)
    return StreamingResponse(
        _spread(body, faults.slow_body_ms / 1000), media_type=media_type,
        headers={"content-length": str(len(body))},
    )


class CutResponse(Response):
    """The answer's head and the first half of its body, then the connection is closed: a
    response lost after the platform committed. Under uvicorn the client sees a body shorter
    than its Content-Length; in-process (TestClient) a truncated body."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body, media_type=JSON)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2],
                    "more_body": True})
        # Returning without the end of the body makes uvicorn close the connection.


async def _spread(body: bytes, seconds: float) -> AsyncIterator[bytes]:
    steps = max(1, min(len(body), 20))
    size = -(-len(body) // steps)
    for start in range(0, len(body), size):
        await asyncio.sleep(seconds / steps)
        yield body[start : start + size]


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _out_of_range(data: dict[str, Any]) -> dict[str, Any]:
    """Money below zero and dates no platform could mean, in every kind of answer."""
    for item in data.get("items", []):
        for field in ("amount", "base", "personal", "employer"):
            if field in item:
                item[field] = "-" + item[field]
        if item.get("paid_on"):
            item["paid_on"] = FAR_FUTURE_DAY
    if "person" in data:
        data["person"]["birth_date"] = FAR_FUTURE_DAY
    if "expires_at" in data:
        data["expires_at"] = FAR_FUTURE_DAY + "T00:00:00Z"
    return data


def _invalid_utf8(body: bytes) -> bytes:
    """0xFF 0xFE (never valid UTF-8) at the start of the first string value."""
    at = body.find(b'":"')
    return body if at < 0 else body[: at + 3] + b"\xff\xfe" + body[at + 3 :]


async def _trickle(body: bytes, interval_s: float) -> AsyncIterator[bytes]:
    for i in range(len(body)):
        yield body[i : i + 1]
        await asyncio.sleep(interval_s)


async def _padded(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The answer with a `padding` field that brings it to at least `size` bytes."""
    head = body[:-1] + b',"padding":"'
    yield head
    left = max(size - len(head) - 2, 0)
    filler = b"x" * CHUNK
    while left > 0:
        yield filler[: min(left, CHUNK)]
        left -= CHUNK
        await asyncio.sleep(0)  # let a disconnect be noticed
    yield b'"}'


async def _nested(body: bytes, depth: int) -> AsyncIterator[bytes]:
    """The answer with a `nested` field of `depth` nested lists."""
    yield body[:-1] + b',"nested":'
    for char in (b"[", b"]"):
        left = depth
        while left > 0:
            yield char * min(left, CHUNK)
            left -= CHUNK
            await asyncio.sleep(0)
    yield b"}"
