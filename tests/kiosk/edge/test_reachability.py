"""Every edge call's outcome is what /status reports as `edge` (kiosk.edge.reachability)."""

from __future__ import annotations

import time

import pytest

from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.reachability import EdgeReachability
from simulators.stack.ports import free_port
from tests.kiosk.edge.fake_edge import Answer, FakeEdge, problem

TOKEN = "dev1.kiosk-001.c2lnbmF0dXJl"


def test_nothing_is_known_before_the_first_call() -> None:
    assert EdgeReachability().last() is None


def test_answers_refusals_and_silence_are_told_apart(edge: FakeEdge) -> None:
    client = EdgeClient(edge.url, "kiosk-001", TOKEN, deadline_s=5)
    try:
        assert client.reachability.last() is None
        before = time.time()
        edge.script = [Answer(200, {"status": "ok"}), problem(422, "validation-error"),
                       Answer(503, {"detail": "bad gateway"})]
        client.health()
        first = client.reachability.last()
        assert first is not None and first.reachable and first.checked_at >= before
        with pytest.raises(EdgeProblem):
            client.health()  # a refusal is an answer from the edge
        last = client.reachability.last()
        assert last is not None and last.reachable
        with pytest.raises(EdgeUnreachable):
            client.health()  # a gateway's 503: the edge itself did not answer
        last = client.reachability.last()
        assert last is not None and not last.reachable
    finally:
        client.close()

    gone = EdgeClient(f"http://127.0.0.1:{free_port()}", "kiosk-001", TOKEN, deadline_s=2)
    try:
        with pytest.raises(EdgeUnreachable):
            gone.health()  # connection refused
        last = gone.reachability.last()
        assert last is not None and not last.reachable
    finally:
        gone.close()
