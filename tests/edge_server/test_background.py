"""The background loops (edge_server/background.py): they run, survive a failing step, and
stop() returns promptly even while a step is blocked in its worker thread."""

import asyncio
import threading
import time

from edge_server.background import DEFAULT_LOOPS, Background, Loop


class FakeCtx:
    settings = None


def run(coro):
    return asyncio.run(coro)


def test_loops_run_repeatedly_and_survive_a_failing_step():
    calls: list[int] = []

    def step(_ctx):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first step fails")
        return 0.0

    async def scenario():
        loops = Background(FakeCtx(), (Loop("flaky", step, lambda _ctx: 0.0),))
        loops.start()
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert loops.running == ["flaky"]
        await loops.stop()
        assert loops.running == []

    run(scenario())
    assert len(calls) >= 3


def test_stop_returns_promptly_while_a_step_is_blocked():
    entered, release = threading.Event(), threading.Event()

    def blocked(_ctx):
        entered.set()
        release.wait(30)  # a central probe that hangs
        return None

    async def scenario():
        loops = Background(FakeCtx(), (Loop("stuck", blocked, lambda _ctx: 1.0),))
        loops.start()
        while not entered.is_set():
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await loops.stop()
        return time.monotonic() - started

    try:
        took = run(scenario())
    finally:
        release.set()
    assert took < 1.5


def test_the_default_loops():
    assert [loop.name for loop in DEFAULT_LOOPS] == [
        "central-probe", "purge", "outbox-relay", "card-blacklist"]


def test_a_nudge_wakes_a_loop_before_its_interval():
    from edge_server.outbox.runtime import Nudge

    nudge = Nudge()
    calls: list[float] = []
    second = threading.Event()

    def step(_ctx):
        calls.append(time.monotonic())
        if len(calls) == 2:
            second.set()
        return None

    async def scenario():
        # An interval far beyond the test: only the nudge can bring the second step.
        loops = Background(FakeCtx(), (Loop("woken", step, lambda _ctx: 3600.0,
                                            wake=lambda _ctx: nudge),))
        loops.start()
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(nudge.set)  # from another thread, as enqueue does
        woke = await asyncio.to_thread(second.wait, 10)
        await loops.stop()
        return woke

    assert run(scenario()) and len(calls) == 2


def test_the_app_starts_and_stops_its_loops(tmp_path):
    from fastapi.testclient import TestClient

    from edge_server.main import create_app
    from edge_server.settings import EdgeSettings

    settings = EdgeSettings(data_dir=tmp_path, hall_secret="x", central_api_key="k",
                            central_url="http://127.0.0.1:9", central_timeout_s=0.2)
    app = create_app(settings)
    started = time.monotonic()
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
    assert time.monotonic() - started < 5
