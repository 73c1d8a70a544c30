"""A real `kioskctl edge` against a real `kioskctl central-sim` in each hostile mode.

Whatever the platform answers, the edge answers from its cache (stale) or with the contract's
503, within its deadline, logs the refusal without personal data, and keeps /health answering
while its worker pool is full of calls to a platform that trickles.
"""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor
from tests.edge_server.support import HALL_SECRET, PROBLEM, card_body, headers, new_key
from tests.harness.stack import supervised

DEADLINE_S = 6.0  # long, so that a call that ignored it would show; trickles last far longer
POOL_THREADS = 40  # anyio's default worker threads, which sync routes run in


@dataclass
class Stack:
    sup: Supervisor
    central: services.HttpService
    edge: services.HttpService
    edge_proc: ManagedProcess
    workdir: Path

    def citizen(self, n: int) -> dict:
        return httpx.get(f"{self.central.url}/sim/v1/citizens/{n}").json()

    def faults(self, **faults) -> None:
        assert httpx.put(f"{self.central.url}/sim/v1/faults", json=faults).status_code == 200

    def open(self, citizen: dict, timeout: float = 30) -> httpx.Response:
        return httpx.post(f"{self.edge.url}/api/v1/sessions", json=card_body(citizen),
                          headers=headers(key=new_key()), timeout=timeout)

    def health(self, timeout: float) -> httpx.Response:
        return httpx.get(f"{self.edge.url}/api/v1/health", timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("central-hostile")
    with supervised(workdir / "logs") as sup:
        central = services.central_sim(population=500, today="2026-11-22")
        sup.start(central.spec)
        edge = services.edge(workdir / "edge", central_url=central.url, hall_secret=HALL_SECRET,
                             extra_env={
                                 "EDGE_CACHE_TTL_S": "0",  # every call asks central
                                 "EDGE_CENTRAL_DEADLINE_S": str(DEADLINE_S),
                                 # Room for more calls than worker threads: the pool fills.
                                 "EDGE_CENTRAL_MAX_IN_FLIGHT": str(2 * POOL_THREADS),
                                 # This file tests central, not the identify rate limits.
                                 "EDGE_IDENTIFY_DEVICE_BURST": "100000",
                                 "EDGE_IDENTIFY_HALL_BURST": "100000",
                             })
        edge_proc = sup.start(edge.spec)
        yield Stack(sup, central, edge, edge_proc, workdir)


@pytest.fixture(autouse=True)
def no_faults(stack) -> Iterator[None]:
    stack.faults()
    yield
    stack.faults()


MODES = ["other-citizen", "out-of-range", "bare-404", "deep-nesting", "invalid-utf8",
         "wrong-content-type", "oversized"]


@pytest.mark.parametrize("n,mode", list(enumerate(MODES)), ids=MODES)
def test_each_hostile_answer_is_an_outage_to_the_edge(stack, n, mode):
    cached, stranger = stack.citizen(10 + n), stack.citizen(100 + n)
    first = stack.open(cached)
    assert first.status_code == 201 and first.json()["stale"] is False

    stack.faults(hostile=mode)  # oversized: 300 MB, streamed; the edge stops at 1 MB
    again = stack.open(cached)
    assert again.status_code == 201, again.text
    assert again.json()["stale"] is True
    assert again.json()["citizen"] == first.json()["citizen"], "never the answer's person"

    r = stack.open(stranger)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")
    assert r.headers["content-type"] == PROBLEM

    stack.faults()
    assert stack.open(cached).json()["stale"] is False, "back to fresh once it behaves"
    log = stack.edge_proc.log_path.read_text()
    assert "refused the central platform's answer" in log
    for person in (cached, stranger):
        assert person["citizen_id"] not in log and person["name"] not in log


def test_a_trickling_platform_holds_no_call_past_its_deadline_and_health_answers(stack):
    """One byte every 2 s: without a total deadline each call lasted minutes, and some 40 of
    them took every worker thread, /health included."""
    cached = stack.citizen(200)
    assert stack.open(cached).status_code == 201
    strangers = [stack.citizen(201 + i) for i in range(POOL_THREADS + 10)]
    stack.faults(hostile="trickle", trickle_interval_ms=2000)

    results: list[tuple[int, str, float]] = []
    lock = threading.Lock()

    def call(citizen: dict) -> None:
        started = time.monotonic()
        r = stack.open(citizen, timeout=120)
        with lock:
            results.append((r.status_code, r.json().get("code", ""),
                            time.monotonic() - started))

    stale: list[httpx.Response] = []
    threads = [threading.Thread(target=call, args=(c,)) for c in strangers]
    threads.append(threading.Thread(target=lambda: stale.append(stack.open(cached, timeout=120))))
    for t in threads:
        t.start()
    # While the calls hold every worker thread, health answers at once, each time.
    pace = threading.Event()  # paces the polls; never set
    polls = 0
    while any(t.is_alive() for t in threads):
        assert stack.health(timeout=2).status_code == 200
        polls += 1
        pace.wait(0.2)
    for t in threads:
        t.join(120)
    assert polls >= 5, "health was asked while the calls were in flight"

    assert len(results) == len(strangers)
    assert {(status, code) for status, code, _ in results} == {(503, "central-unavailable")}
    # Each call ended at its deadline (plus the wait for a worker thread), not with the trickle,
    # which would take over an hour for one answer.
    assert max(elapsed for _, _, elapsed in results) < 3 * DEADLINE_S
    assert stale[0].status_code == 201 and stale[0].json()["stale"] is True
