"""The central client's calls are bounded by their deadline against a real trickling TCP peer
(the transport itself is tested in tests/common/test_http.py)."""

import time

import pytest

from edge_server.central import CentralClient, CentralLimits, CentralUnavailable
from tests.edge_server.central.answers import CITIZEN, NOW
from tests.harness.trickle import HEADERS, peer


def real_client(url: str, deadline_s: float, timeout_s: float = 3.0) -> CentralClient:
    return CentralClient(url, "k", CentralLimits(timeout_s=timeout_s, deadline_s=deadline_s),
                         clock=lambda: NOW)


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_trickled_answer_fails_at_the_deadline(where):
    # 1000 bytes at one per 0.2 s would take 200 s; each read alone is well inside timeout_s.
    kwargs = {"head": HEADERS, "send": b"x" * 1000} if where == "body" else {"send": HEADERS}
    with peer(every_s=0.2, **kwargs) as url:
        client = real_client(url, deadline_s=1.0)
        started = time.monotonic()
        with pytest.raises(CentralUnavailable):
            client.query_person(CITIZEN)
        assert time.monotonic() - started < 3.0, "the deadline, not the peer, ended the call"
        assert client.reachability.state == "unreachable"
        client.close()


def test_a_silent_peer_fails_at_the_deadline_not_the_read_timeout():
    with peer(send=b" ", every_s=60) as url:  # says nothing for a minute
        client = real_client(url, deadline_s=0.5, timeout_s=30.0)
        started = time.monotonic()
        with pytest.raises(CentralUnavailable, match="deadline or timeout"):
            client.query_person(CITIZEN)
        assert time.monotonic() - started < 5.0
        client.close()


def test_the_health_probe_is_bounded_too():
    with peer(send=HEADERS, every_s=0.2) as url:
        client = real_client(url, deadline_s=30.0)
        started = time.monotonic()
        assert client.probe(timeout_s=0.5) is False
        assert time.monotonic() - started < 3.0
        assert client.reachability.state == "unreachable"
        client.close()
