"""Effects performed for real: the flow, its EffectRunner and the real EdgeClient against a
real edge-like HTTP server. One tap is at most 1 + max_retries HTTP attempts, all with the
same Idempotency-Key (the client no longer retries inside the flow's retries)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.backoff import Backoff
from drivers.card.fake import FakeCardReader
from kiosk.edge.client import EdgeClient
from kiosk.flow import Action, FlowConfig, KioskFlow, Msg, RetryPolicy, ScreenName, Tap
from kiosk.flow.effects import EndRemote, JourneyCall, OpenSession
from kiosk.flow.runtime import EffectRunner
from tests.kiosk.edge.fake_edge import Answer, FakeEdge
from tests.kiosk.edge.test_client import BENEFITS, OPENED, TOKEN
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge, sample_card

RETRIES = 5
CONFIG = FlowConfig(retry=RetryPolicy(backoff=Backoff(initial_s=2, max_s=30, jitter=0),
                                      max_retries=RETRIES))


@pytest.fixture
def server() -> Iterator[FakeEdge]:
    edge = FakeEdge()
    yield edge
    edge.close()


class RealKiosk:
    """The flow over the real client; jobs run when the test says, time moves when it says."""

    def __init__(self, url: str) -> None:
        self.client = EdgeClient(url, "kiosk-001", TOKEN, deadline_s=5)
        self.clock, self.tasks = ManualClock(), ManualTasks()
        self.flow = KioskFlow(self.client, self.tasks, self.clock, CONFIG)
        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)

    def settle(self) -> None:
        """Run every job, and wait out every retry, until the flow stops retrying."""
        while True:
            self.tasks.run_all()
            notice = self.flow.view.notice
            if notice is None or not notice.retrying:
                return
            self.clock.advance(self.clock.pending()[0])  # the retry timer is the soonest


def test_one_card_against_a_dead_edge_is_one_attempt_per_retry(server: FakeEdge) -> None:
    server.script = [Answer(0, drop=True)]
    kiosk = RealKiosk(server.url)
    kiosk.reader.insert(sample_card())
    kiosk.settle()

    assert kiosk.flow.view.notice is not None and kiosk.flow.view.notice.key == Msg.TRY_LATER
    posts = [s for s in server.seen if s.method == "POST"]
    assert len(posts) == 1 + RETRIES  # before: the client's own retries doubled this
    assert len({s.headers["Idempotency-Key"] for s in posts}) == 1
    kiosk.client.close()


def test_one_tap_against_a_failing_gateway_is_one_attempt_per_retry(server: FakeEdge) -> None:
    server.script = [Answer(201, OPENED)] + [Answer(502, "<html>bad gateway</html>",
                                                    "text/html")] * 3 + [Answer(200, BENEFITS)]
    kiosk = RealKiosk(server.url)
    kiosk.reader.insert(sample_card())
    kiosk.tasks.run_all()
    assert kiosk.flow.view.screen is ScreenName.HOME

    kiosk.flow.handle(Tap(Action.START_JOURNEY, "benefits"))
    kiosk.settle()

    assert kiosk.flow.view.screen is ScreenName.BENEFITS
    gets = [s for s in server.seen if s.method == "GET"]
    assert len(gets) == 4  # three failures, one success: one HTTP attempt each
    kiosk.client.close()


def test_the_runner_performs_each_effect_once() -> None:
    edge, tasks, delivered = ScriptedEdge(), ManualTasks(), []
    from kiosk.flow.identify.card import card_credential
    from kiosk.flow.journeys.base import Call

    runner = EffectRunner(edge, tasks, delivered.append)
    runner.perform(OpenSession(1, "key-1", "card", card_credential(sample_card())))
    runner.perform(JourneyCall(2, "benefits", Call(
        "benefits", lambda port: port.get_benefits("ses_0001"))))
    runner.perform(EndRemote("ses_0001", "key-2"))
    assert delivered == []  # nothing runs until a worker does
    tasks.run_all()

    assert [(e.request, e.kind, e.outcome.ok) for e in delivered] == [
        (1, "open", True), (2, "benefits", True)]
    assert [key for _, key in edge.open_calls] == ["key-1"]
    assert edge.benefits_calls == ["ses_0001"] and edge.end_calls == [("ses_0001", "key-2")]
