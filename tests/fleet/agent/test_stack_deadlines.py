"""Every wait of the real agent process has a total deadline, so SIGTERM ends it promptly:
a kiosk that trickles its status a byte at a time, a broker that accepts TCP and never answers."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.agent.support import Trickler
from tests.fleet.support import FakeKiosk, FleetStack, wait_for

# SIGTERM -> exit: one kiosk poll (1.25 x 1 s) + the death's acknowledgement (2 s) + the
# transport's stop (2 s), with room for a loaded machine. Beyond it the supervisor kills (-9).
STOP_BUDGET_S = 8.0


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    t = Trickler()
    yield t
    t.close()


def test_a_trickling_kiosk_is_given_up_and_sigterm_is_prompt(stack: FleetStack,
                                                             trickler: Trickler) -> None:
    spec = stack.agent_spec("T-0401", f"http://127.0.0.1:{trickler.port}/status",
                            health_interval_s=0.5, AGENT_KIOSK_TIMEOUT_S="1",
                            AGENT_PERIPHERALS='["card_reader"]')
    spec.stop_timeout = STOP_BUDGET_S
    agent = stack.sup.start(spec)
    d = stack.wait_device("T-0401", lambda d: d["online"] and d["health"], "online with health")
    assert d["health"]["kiosk"]["reachable"] is False  # the answer never completed
    assert d["health"]["peripherals"]["card_reader"]["code"] == "kiosk-unreachable"
    first = d["health"]["seq"]
    stack.wait_device("T-0401", lambda d: d["health"]["seq"] >= first + 2, "health goes on")

    assert agent.stop() == 0  # not -9: it ended by itself within the budget
    stack.sup.processes.remove(agent)
    gone = stack.wait_device("T-0401", lambda d: not d["online"], "offline")
    assert gone["presence"]["reason"] == "shutdown"


def test_a_broker_that_never_answers_does_not_hold_sigterm(stack: FleetStack,
                                                           trickler: Trickler) -> None:
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
    try:
        spec = stack.agent_spec("T-0402", f"http://127.0.0.1:{trickler.port}/status",
                                AGENT_BROKER_URL=f"mqtt://127.0.0.1:{silent.getsockname()[1]}",
                                AGENT_CONNECT_TIMEOUT_S="60", AGENT_KIOSK_TIMEOUT_S="1")
        spec.stop_timeout = STOP_BUDGET_S
        agent = stack.sup.start(spec)
        stack.sup.processes.remove(agent)
        wait_for(lambda: held, "the agent's connection attempt", diagnostics=stack.logs)
        assert agent.stop() == 0
        assert "fleet agent T-0402 stopped" in agent.log_tail(20)
    finally:
        silent.close()
        for s in held:
            s.close()


def _tgkill(pid: int, tid: int, signum: int) -> None:
    """Send `signum` to one thread of another process (Linux tgkill(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    sys_tgkill = 234  # x86-64
    if libc.syscall(sys_tgkill, pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def test_sigterm_delivered_to_a_worker_thread_still_stops_the_agent(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    # The kernel may hand a process's SIGTERM to any of its threads (paho's network thread,
    # the probe's). That does not interrupt the main thread's wait; with a health interval of
    # a minute, an agent that only woke for its next task was killed at the supervisor's limit.
    spec = stack.agent_spec("T-0403", fake_kiosk.url, health_interval_s=60)
    spec.stop_timeout = STOP_BUDGET_S
    agent = stack.sup.start(spec)
    stack.sup.processes.remove(agent)
    stack.wait_device("T-0403", lambda d: d["online"], "online")
    tasks = Path(f"/proc/{agent.pid}/task")
    workers = [int(t.name) for t in tasks.iterdir() if int(t.name) != agent.pid]
    assert workers, "the agent runs its MQTT client on a thread of its own"
    _tgkill(agent.pid, workers[0], signal.SIGTERM)
    wait_for(lambda: not agent.alive(), "the agent to exit by itself", timeout=STOP_BUDGET_S,
             diagnostics=lambda: agent.log_tail(20))
    assert agent.stop() == 0
    assert "fleet agent T-0403 stopped" in agent.log_tail(20)
    gone = stack.wait_device("T-0403", lambda d: not d["online"], "offline")
    assert gone["presence"]["reason"] == "shutdown"
