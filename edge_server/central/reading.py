"""Read an answer's body without trusting it: bounded in size, stopped at the deadline."""

from __future__ import annotations

import httpx

from common.clock import Deadline
from common.http import AnswerTooLarge, DeadlinePassed, read_bounded
from edge_server.central.errors import BadAnswer, CentralUnavailable


def read_body(response: httpx.Response, max_bytes: int, deadline: Deadline) -> bytes:
    """The whole body of a streamed `response`, or BadAnswer past `max_bytes`.

    We ask for `identity`; a compressed body is refused rather than inflated (a small gzip can
    expand to gigabytes before any size check could see it).
    """
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BadAnswer("unrequested content-encoding", repr(encoding[:20]))
    try:
        return read_bounded(response, max_bytes, deadline)
    except AnswerTooLarge as exc:
        raise BadAnswer("body over the cap", str(exc)) from None
    except DeadlinePassed as exc:
        raise CentralUnavailable("deadline passed while reading the answer") from exc


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
