"""The busy screen (loading, identifying) shows only once the edge is slower than
FlowConfig.busy_delay_s: a fast answer goes straight to its result, and the screen on meanwhile
starts nothing new."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.edge.errors import EdgeUnreachable
from kiosk.flow import Action, Msg, ScreenName
from tests.kiosk.fakes import ScriptedEdge, sample_card
from tests.kiosk.flow.test_core import CONFIG
from tests.kiosk.flow.test_core import Kiosk as CoreKiosk

DELAY_S = 0.18


class Kiosk(CoreKiosk):
    def __init__(self, edge: ScriptedEdge | None = None) -> None:
        super().__init__(edge, replace(CONFIG, busy_delay_s=DELAY_S))

    def at_home(self) -> None:
        super().at_home()
        self.views.clear()


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def test_a_fast_answer_goes_straight_to_the_result(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.START_JOURNEY, "benefits")
    assert kiosk.screen is ScreenName.HOME and len(kiosk.tasks.queue) == 1

    kiosk.clock.advance(DELAY_S / 2)
    kiosk.tasks.run_all()
    kiosk.clock.advance(5)  # the busy timer, if any were left, would fire now

    assert kiosk.screen is ScreenName.BENEFITS and kiosk.flow.view.content is not None
    assert ScreenName.LOADING not in kiosk.screens()


def test_a_slow_answer_shows_loading_after_the_delay(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.START_JOURNEY, "benefits")

    kiosk.clock.advance(DELAY_S - 0.01)
    assert kiosk.screen is ScreenName.HOME
    kiosk.clock.advance(0.02)
    assert kiosk.screen is ScreenName.LOADING

    kiosk.tasks.run_all()
    assert kiosk.screens() == [ScreenName.LOADING, ScreenName.BENEFITS]


def test_taps_during_the_wait_start_no_second_request(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.START_JOURNEY, "benefits")
    kiosk.tap(Action.START_JOURNEY, "benefits")  # a double tap
    kiosk.tap(Action.START_JOURNEY, "contributions")
    kiosk.tap(Action.BACK)

    assert len(kiosk.tasks.queue) == 1 and kiosk.screen is ScreenName.HOME
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.BENEFITS
    assert kiosk.edge.benefits_calls == ["ses_0001"] and kiosk.edge.contributions_calls == []


def test_a_card_pulled_during_the_wait_ends_the_session_at_once(kiosk: Kiosk) -> None:
    kiosk.at_home()
    session = kiosk.flow.session
    assert session is not None
    kiosk.tap(Action.START_JOURNEY, "benefits")

    kiosk.reader.remove()

    assert kiosk.screen is ScreenName.ATTRACT and session.wiped
    assert not kiosk.flow.view.session_active
    kiosk.tasks.run_all()  # the benefits answer, now stale, and the session's end
    kiosk.clock.advance(5)
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow.view.content is None
    assert [sid for sid, _ in kiosk.edge.end_calls] == ["ses_0001"]
    assert ScreenName.LOADING not in kiosk.screens()


def test_ending_during_the_wait_ends_the_session(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.START_JOURNEY, "benefits")
    kiosk.tap(Action.END)
    kiosk.clock.advance(5)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.ENDING and not kiosk.flow.view.session_active


def test_the_card_stays_on_reading_while_a_fast_edge_identifies(kiosk: Kiosk) -> None:
    kiosk.reader.insert(sample_card())
    assert kiosk.screen is ScreenName.READING and len(kiosk.tasks.queue) == 1
    kiosk.tasks.run_all()
    kiosk.clock.advance(5)
    assert kiosk.screens() == [ScreenName.READING, ScreenName.HOME]


def test_a_slow_identify_shows_identifying_and_a_pull_ends_it(kiosk: Kiosk) -> None:
    kiosk.reader.insert(sample_card())
    kiosk.clock.advance(DELAY_S + 0.01)
    assert kiosk.screen is ScreenName.IDENTIFYING

    kiosk.reader.remove()
    kiosk.tasks.run_all()  # the session opened after the citizen left: ended at once
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow.session is None
    kiosk.tasks.run_all()
    assert [sid for sid, _ in kiosk.edge.end_calls] == ["ses_0001"]


def test_a_card_pulled_while_identifying_waits_shows_no_busy_screen(kiosk: Kiosk) -> None:
    kiosk.reader.insert(sample_card())
    kiosk.reader.remove()
    kiosk.clock.advance(5)
    assert kiosk.screen is ScreenName.ATTRACT
    assert ScreenName.IDENTIFYING not in kiosk.screens()


def test_a_retry_notice_is_not_covered_by_a_late_busy_screen() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeUnreachable("refused")]))
    k.at_home()
    k.tap(Action.START_JOURNEY, "benefits")
    k.tasks.run_all()  # fails fast: the retry notice
    assert k.screen is ScreenName.MESSAGE

    k.clock.advance(DELAY_S * 2)  # past the busy delay, short of the retry (2 s)
    notice = k.flow.view.notice
    assert k.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == Msg.EDGE_UNREACHABLE
