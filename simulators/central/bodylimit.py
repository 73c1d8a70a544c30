"""A cap on request bodies, before anything parses them: a client cannot make the simulator
hold more than MAX_BODY bytes of one request."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.problem import Problem
from webapi.problems import problem_response

MAX_BODY = 2 * 1024 * 1024  # 100 submissions of ~2 KB each fit ten times over


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = problem_response(Problem(413, "payload-too-large", "Request body too large"))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                await too_large(scope, receive, send)
                return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await too_large(scope, receive, send)
