"""The flow's core without a window: FakeCardReader events in, views and edge calls out."""

from __future__ import annotations

import uuid

import pytest

from common.backoff import Backoff
from drivers.base import Health, HealthState
from drivers.card.fake import FakeCardReader
from drivers.card.interface import CardFailure
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.models import Benefits
from kiosk.flow import (
    Action,
    Activity,
    FlowConfig,
    KioskFlow,
    Msg,
    RetryPolicy,
    ScreenName,
    Tap,
    Tone,
    View,
)
from kiosk.flow.identify.card import CARD_FAILURE_MESSAGES, CardMsg
from kiosk.flow.messages import message_for_problem
from kiosk.flow.prefs import Preferences
from tests.kiosk.fakes import (
    AS_OF,
    ManualClock,
    ManualTasks,
    ScriptedEdge,
    sample_benefits,
    sample_card,
    sample_opened,
)

CONFIG = FlowConfig(
    idle_timeout_s=90, idle_warning_s=30, message_hold_s=20, page_size=6,
    retry=RetryPolicy(backoff=Backoff(initial_s=2, max_s=30, jitter=0)),
)


class Kiosk:
    """The flow wired to fakes the way the app wires it to real parts."""

    def __init__(self, edge: ScriptedEdge | None = None, config: FlowConfig = CONFIG) -> None:
        self.edge = edge or ScriptedEdge()
        self.clock = ManualClock()
        self.tasks = ManualTasks()
        self.flow = KioskFlow(self.edge, self.tasks, self.clock, config)
        self.reader = FakeCardReader()
        # FakeCardReader publishes on the caller's thread, so no bridge is needed here.
        self.reader.subscribe(self.flow.handle)
        self.views: list[View] = []
        self.flow.subscribe(self.views.append)

    @property
    def view(self) -> View:
        return self.flow.view

    @property
    def screen(self) -> ScreenName:
        return self.flow.view.screen

    @property
    def prefs(self) -> Preferences:
        return self.flow.view.prefs

    def screens(self) -> list[ScreenName]:
        return [v.screen for v in self.views]

    def tap(self, action: Action, journey: str | None = None) -> None:
        self.flow.handle(Tap(action, journey))

    def show_benefits(self) -> None:
        self.flow.handle(Tap(Action.START_JOURNEY, "benefits"))

    def at_home(self) -> None:
        self.reader.insert(sample_card())
        self.tasks.run_all()
        assert self.screen is ScreenName.HOME


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def is_uuid(text: str) -> bool:
    return str(uuid.UUID(text)) == text


# The journey ------------------------------------------------------------------------------

def test_starts_on_the_attract_screen(kiosk: Kiosk) -> None:
    assert kiosk.screen is ScreenName.ATTRACT
    assert not kiosk.view.session_active


def test_a_card_is_read_identified_and_greeted(kiosk: Kiosk) -> None:
    kiosk.reader.insert(sample_card())
    # CardInserted showed "reading", CardRead moved on to asking the edge.
    assert [v.screen for v in kiosk.views] == [ScreenName.READING, ScreenName.IDENTIFYING]
    assert len(kiosk.tasks.queue) == 1 and kiosk.edge.open_calls == []

    kiosk.tasks.run_all()

    assert kiosk.screen is ScreenName.HOME
    assert kiosk.view.display_name == "张*"
    assert kiosk.view.session_active and kiosk.view.as_of == AS_OF and not kiosk.view.stale
    credential, key = kiosk.edge.open_calls[0]
    assert credential.fields["citizen_id"] == "11010519491231002X" and is_uuid(key)


def test_benefits_are_shown_in_pages(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.show_benefits()
    assert kiosk.screen is ScreenName.LOADING
    kiosk.tasks.run_all()

    assert kiosk.screen is ScreenName.BENEFITS
    assert kiosk.edge.benefits_calls == ["ses_0001"]
    content = kiosk.view.content
    assert content is not None and content.journey == "benefits"
    assert isinstance(content.data, Benefits) and len(content.data.pension_payments) == 14
    assert (content.page, content.page_count) == (0, 3)
    kiosk.tap(Action.PREVIOUS_PAGE)
    assert kiosk.view.content is not None and kiosk.view.content.page == 0
    for _ in range(5):
        kiosk.tap(Action.NEXT_PAGE)
    assert kiosk.view.content is not None and kiosk.view.content.page == 2

    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.HOME and kiosk.view.content is None


def test_finishing_ends_the_session_and_asks_for_the_card(kiosk: Kiosk) -> None:
    kiosk.at_home()
    session = kiosk.flow.session
    assert session is not None
    open_key = kiosk.edge.open_calls[0][1]

    kiosk.tap(Action.END)

    assert kiosk.screen is ScreenName.ENDING and not kiosk.view.session_active
    assert session.wiped and session.display_name == "" and session.session_id == ""
    kiosk.tasks.run_all()
    (ended, key), = kiosk.edge.end_calls
    assert ended == "ses_0001" and is_uuid(key) and key != open_key

    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT


def test_removing_the_card_at_home_ends_and_wipes_the_session(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.show_benefits()
    kiosk.tasks.run_all()
    session = kiosk.flow.session
    assert session is not None and kiosk.view.content is not None
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]  # the journey's own data
    assert isinstance(steps.shown().data, Benefits)

    kiosk.reader.remove()

    assert kiosk.screen is ScreenName.ATTRACT
    assert session.wiped and steps.shown().data is None and kiosk.flow._active is None
    assert kiosk.view.display_name == "" and kiosk.view.content is None
    kiosk.tasks.run_all()
    assert [sid for sid, _ in kiosk.edge.end_calls] == ["ses_0001"]


def test_the_view_never_prints_citizen_data(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.show_benefits()
    kiosk.tasks.run_all()
    text = repr(kiosk.view) + repr(kiosk.flow.session)
    for secret in ("张", "ses_0001", "3456", "6222"):
        assert secret not in text


# The edge server down, slow, or behind an unreachable central platform ----------------------

def test_edge_down_retries_with_backoff_and_the_same_key_until_it_is_back() -> None:
    unreachable = EdgeUnreachable("ConnectError on POST /sessions")
    k = Kiosk(ScriptedEdge(open_script=[unreachable, unreachable, unreachable, sample_opened()]))
    k.reader.insert(sample_card())
    k.tasks.run_all()

    assert k.screen is ScreenName.MESSAGE
    notice = k.view.notice
    assert notice is not None and notice.key == Msg.EDGE_UNREACHABLE
    assert notice.retrying and notice.tone is Tone.WAIT and notice.actions == ()
    assert k.clock.pending() == [2.0]

    k.clock.advance(1.9)
    assert k.tasks.queue == []  # not yet
    k.clock.advance(0.1)
    k.tasks.run_all()  # second failure: the delay doubles
    assert k.clock.pending() == [4.0]
    k.clock.advance(4)
    k.tasks.run_all()
    assert k.clock.pending() == [8.0]
    assert k.screen is ScreenName.MESSAGE

    k.clock.advance(8)
    k.tasks.run_all()  # the edge is back

    assert k.screen is ScreenName.HOME and k.view.session_active
    keys = {key for _, key in k.edge.open_calls}
    assert len(k.edge.open_calls) == 4 and len(keys) == 1


def test_central_unavailable_is_retried_after_retry_after() -> None:
    problem = EdgeProblem(codes.CENTRAL_UNAVAILABLE, 503, retry_after_s=7)
    k = Kiosk(ScriptedEdge(open_script=[problem, sample_opened()]))
    k.reader.insert(sample_card())
    k.tasks.run_all()

    assert k.view.notice is not None and k.view.notice.key == Msg.CENTRAL_UNAVAILABLE
    assert k.view.notice.retrying
    assert k.clock.pending() == [7.0]
    k.clock.advance(7)
    k.tasks.run_all()
    assert k.screen is ScreenName.HOME


def test_too_many_requests_is_retried_after_retry_after_with_the_same_key() -> None:
    limited = EdgeProblem(codes.TOO_MANY_REQUESTS, 429, retry_after_s=11)
    k = Kiosk(ScriptedEdge(open_script=[limited, sample_opened()]))
    k.reader.insert(sample_card())
    k.tasks.run_all()

    assert k.view.notice is not None and k.view.notice.key == Msg.SERVICE_BUSY
    assert k.view.notice.retrying
    assert k.clock.pending() == [11.0]
    k.clock.advance(11)
    k.tasks.run_all()
    assert k.screen is ScreenName.HOME
    assert len(k.edge.open_calls) == 2 and len({key for _, key in k.edge.open_calls}) == 1


def test_in_flight_answers_are_retried_with_the_same_key() -> None:
    busy = EdgeProblem(codes.IDEMPOTENCY_KEY_IN_FLIGHT, 409)
    k = Kiosk(ScriptedEdge(open_script=[busy, sample_opened()]))
    k.reader.insert(sample_card())
    k.tasks.run_all()
    k.clock.advance(2)
    k.tasks.run_all()
    assert k.screen is ScreenName.HOME
    assert len({key for _, key in k.edge.open_calls}) == 1


def test_stale_central_data_shows_its_date() -> None:
    k = Kiosk(ScriptedEdge(open_script=[sample_opened(stale=True)],
                           benefits_script=[sample_benefits(stale=True)]))
    k.at_home()
    assert k.view.stale and k.view.as_of == AS_OF
    k.show_benefits()
    k.tasks.run_all()
    assert k.screen is ScreenName.BENEFITS and k.view.stale and k.view.as_of == AS_OF


def test_benefits_with_the_edge_down_retry_and_can_be_abandoned() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeUnreachable("timeout")]))
    k.at_home()
    k.show_benefits()
    k.tasks.run_all()
    notice = k.view.notice
    assert notice is not None and notice.key == Msg.EDGE_UNREACHABLE
    assert notice.actions == (Action.BACK,) and k.view.session_active

    k.tap(Action.BACK)
    assert k.screen is ScreenName.HOME
    k.clock.advance(60)
    k.tasks.run_all()
    assert len(k.edge.benefits_calls) == 1  # the abandoned retry never ran


def test_benefits_come_through_once_the_edge_is_back() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeUnreachable("reset"), sample_benefits()]))
    k.at_home()
    k.show_benefits()
    k.tasks.run_all()
    k.clock.advance(2)
    k.tasks.run_all()
    assert k.screen is ScreenName.BENEFITS


def test_an_expired_session_says_so_and_needs_the_card_again() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeProblem(codes.SESSION_NOT_FOUND, 404)]))
    k.at_home()
    k.show_benefits()
    k.tasks.run_all()
    assert k.view.notice is not None and k.view.notice.key == Msg.SESSION_EXPIRED
    assert not k.view.session_active
    k.reader.remove()
    k.tasks.run_all()
    assert k.screen is ScreenName.ATTRACT
    assert k.edge.end_calls == []  # the edge had already forgotten it


def test_a_refused_benefits_call_offers_a_way_back() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeProblem(codes.UNAUTHORIZED, 401)]))
    k.at_home()
    k.show_benefits()
    k.tasks.run_all()
    assert k.view.notice is not None
    assert k.view.notice.key == Msg.DEVICE_NOT_AUTHORISED
    assert k.view.notice.actions == (Action.BACK,) and not k.view.notice.retrying
    k.tap(Action.BACK)
    assert k.screen is ScreenName.HOME


def test_a_bug_in_an_edge_call_shows_a_plain_message() -> None:
    k = Kiosk(ScriptedEdge(open_script=[RuntimeError("boom")]))
    k.reader.insert(sample_card())
    k.tasks.run_all()
    assert k.view.notice is not None and k.view.notice.key == Msg.UNEXPECTED
    k.reader.remove()
    assert k.screen is ScreenName.ATTRACT


@pytest.mark.parametrize(("problem", "expected"), [
    (EdgeProblem(codes.CITIZEN_NOT_FOUND, 404), Msg.CITIZEN_NOT_FOUND),
    (EdgeProblem(codes.INVALID_CITIZEN_ID, 422), Msg.CARD_DATA_INVALID),
    (EdgeProblem(codes.CARD_NOT_VALID, 403, extra={"card_status": "reported-lost"}),
     Msg.CARD_LOST),
    (EdgeProblem(codes.CARD_NOT_VALID, 403, extra={"card_status": "replaced"}),
     Msg.CARD_REPLACED),
    (EdgeProblem(codes.CARD_NOT_VALID, 403, extra={"card_status": "cancelled"}),
     Msg.CARD_CANCELLED),
    (EdgeProblem(codes.CARD_NOT_VALID, 403, extra={"card_status": "unknown"}),
     Msg.CARD_NOT_VALID),
    (EdgeProblem(codes.CARD_NOT_VALID, 403), Msg.CARD_NOT_VALID),
    (EdgeProblem(codes.PAYLOAD_TOO_LARGE, 413), Msg.UNEXPECTED),
    (EdgeProblem(codes.UNAUTHORIZED, 401), Msg.DEVICE_NOT_AUTHORISED),
    (EdgeProblem(codes.TOKEN_EXPIRED, 401), Msg.DEVICE_NOT_AUTHORISED),
    (EdgeProblem(codes.BAD_REQUEST, 400), Msg.UNEXPECTED),
    (EdgeProblem(codes.UNSUPPORTED_MEDIA_TYPE, 415), Msg.UNEXPECTED),
    (EdgeProblem(codes.METHOD_NOT_ALLOWED, 405), Msg.UNEXPECTED),
    (EdgeProblem(codes.VALIDATION_ERROR, 422), Msg.UNEXPECTED),
    (EdgeProblem(codes.IDEMPOTENCY_KEY_REUSED, 422), Msg.UNEXPECTED),
    (EdgeProblem(codes.IDEMPOTENCY_KEY_REQUIRED, 400), Msg.UNEXPECTED),
    (EdgeProblem("something-new", 418), Msg.UNEXPECTED),
])
def test_final_problems_while_identifying_show_their_message(
    problem: EdgeProblem, expected: Msg
) -> None:
    k = Kiosk(ScriptedEdge(open_script=[problem]))
    k.reader.insert(sample_card())
    k.tasks.run_all()
    notice = k.view.notice
    assert k.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == expected and not notice.retrying
    assert notice.actions == ()  # the card is still in: the words say to take it out
    assert k.clock.pending() == []
    k.reader.remove()
    assert k.screen is ScreenName.ATTRACT


def test_every_contract_problem_code_has_a_message() -> None:
    for code in codes.CONTRACT_CODES:
        assert isinstance(message_for_problem(EdgeProblem(code, 400)), Msg)
    assert message_for_problem(EdgeProblem("internal-error", 500)) is Msg.SERVICE_BUSY


# Card failures ------------------------------------------------------------------------------

def test_card_pulled_mid_read_keeps_its_advice_on_screen(kiosk: Kiosk) -> None:
    kiosk.reader.insert_failing(CardFailure.REMOVED)
    kiosk.reader.remove()

    notice = kiosk.view.notice
    assert kiosk.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == CardMsg.REMOVED_MID_READ and notice.actions == (Action.OK,)
    kiosk.clock.advance(19)
    assert kiosk.screen is ScreenName.MESSAGE
    kiosk.clock.advance(1)
    assert kiosk.screen is ScreenName.ATTRACT
    assert kiosk.edge.open_calls == []


def test_the_mid_read_advice_can_be_dismissed_or_overtaken(kiosk: Kiosk) -> None:
    kiosk.reader.insert_failing(CardFailure.REMOVED)
    kiosk.reader.remove()
    kiosk.tap(Action.OK)
    assert kiosk.screen is ScreenName.ATTRACT

    kiosk.reader.insert_failing(CardFailure.REMOVED)
    kiosk.reader.remove()
    kiosk.reader.insert(sample_card())  # tried again straight away
    assert kiosk.screen is ScreenName.IDENTIFYING
    kiosk.clock.advance(60)  # the old message timer must not fire into the new session
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.HOME


def test_a_card_pulled_before_any_read_result_is_treated_as_mid_read(kiosk: Kiosk) -> None:
    from drivers.card.interface import CardInserted, CardRemoved

    kiosk.flow.handle(CardInserted(reader="r", atr="3B00"))
    kiosk.flow.handle(CardRemoved(reader="r"))
    assert kiosk.view.notice is not None
    assert kiosk.view.notice.key == CardMsg.REMOVED_MID_READ


def test_a_generation_3_card_asks_for_staff(kiosk: Kiosk) -> None:
    kiosk.reader.insert_failing(CardFailure.NEEDS_PSAM)
    notice = kiosk.view.notice
    assert notice is not None and notice.key == CardMsg.NEEDS_PSAM
    assert notice.actions == () and not notice.keep_after_removal
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT


@pytest.mark.parametrize("failure", list(CardFailure))
def test_every_card_failure_has_a_message(kiosk: Kiosk, failure: CardFailure) -> None:
    kiosk.reader.insert_failing(failure)
    notice = kiosk.view.notice
    assert notice is not None and notice.key == CARD_FAILURE_MESSAGES[failure]
    assert kiosk.edge.open_calls == [] and not kiosk.view.session_active


# Card removed while the edge is answering -------------------------------------------------

def test_removal_mid_identify_is_final_even_if_the_edge_answers_later(kiosk: Kiosk) -> None:
    kiosk.reader.insert(sample_card())
    assert kiosk.screen is ScreenName.IDENTIFYING
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT

    kiosk.tasks.run_next()  # the edge answers: a session was opened after all

    assert kiosk.screen is ScreenName.ATTRACT and not kiosk.view.session_active
    assert kiosk.flow.session is None
    kiosk.tasks.run_all()
    (ended, key), = kiosk.edge.end_calls  # and it is closed at once
    assert ended == "ses_0001" and key != kiosk.edge.open_calls[0][1]


def test_a_late_answer_never_lands_in_the_next_citizens_session() -> None:
    k = Kiosk(ScriptedEdge(open_script=[sample_opened("ses_first"),
                                        sample_opened("ses_second", display_name="李*")]))
    k.reader.insert(sample_card())
    k.reader.remove()
    k.reader.insert(sample_card(name="李四"))
    k.tasks.run_next()  # the first card's answer arrives while the second is identifying
    assert k.screen is ScreenName.IDENTIFYING
    k.tasks.run_all()
    assert k.screen is ScreenName.HOME and k.view.display_name == "李*"
    assert [sid for sid, _ in k.edge.end_calls] == ["ses_first"]


def test_removal_while_waiting_to_retry_stops_the_retries() -> None:
    k = Kiosk(ScriptedEdge(open_script=[EdgeUnreachable("refused")]))
    k.reader.insert(sample_card())
    k.tasks.run_all()
    k.reader.remove()
    assert k.screen is ScreenName.ATTRACT
    k.clock.advance(120)
    k.tasks.run_all()
    assert len(k.edge.open_calls) == 1


def test_a_late_benefits_answer_after_finishing_is_ignored(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.show_benefits()
    kiosk.tap(Action.END)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.ENDING and kiosk.view.content is None


# Idle timeout (WCAG 2.2.1) ------------------------------------------------------------------

def test_idle_warns_counts_down_and_ends_the_session(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.clock.advance(59)
    assert kiosk.view.idle_seconds_left is None
    kiosk.clock.advance(1)
    assert kiosk.view.idle_seconds_left == 30
    kiosk.clock.advance(10)
    assert kiosk.view.idle_seconds_left == 20
    kiosk.clock.advance(19)
    assert kiosk.view.idle_seconds_left == 1 and kiosk.view.session_active
    kiosk.clock.advance(1)

    assert kiosk.screen is ScreenName.ENDING and not kiosk.view.session_active
    assert kiosk.view.idle_seconds_left is None
    kiosk.tasks.run_all()
    assert len(kiosk.edge.end_calls) == 1
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT


def test_the_warning_can_be_extended(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.clock.advance(75)
    assert kiosk.view.idle_seconds_left == 15
    kiosk.tap(Action.EXTEND)
    assert kiosk.view.idle_seconds_left is None and kiosk.screen is ScreenName.HOME
    kiosk.clock.advance(59)
    assert kiosk.view.idle_seconds_left is None and kiosk.view.session_active
    kiosk.clock.advance(1)
    assert kiosk.view.idle_seconds_left == 30


def test_activity_postpones_the_warning_but_does_not_dismiss_it(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.clock.advance(50)
    kiosk.flow.handle(Activity())  # scrolling, a near miss: the citizen is there
    kiosk.clock.advance(50)
    assert kiosk.view.idle_seconds_left is None
    kiosk.clock.advance(10)
    assert kiosk.view.idle_seconds_left == 30
    kiosk.flow.handle(Activity())  # a touch on the dimmed screen is not "extend"
    assert kiosk.view.idle_seconds_left == 30


def test_any_tap_counts_as_activity(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.clock.advance(55)
    kiosk.show_benefits()
    kiosk.tasks.run_all()
    kiosk.clock.advance(55)
    assert kiosk.view.idle_seconds_left is None and kiosk.screen is ScreenName.BENEFITS


def test_no_idle_timer_runs_without_a_session(kiosk: Kiosk) -> None:
    assert kiosk.clock.pending() == []
    kiosk.at_home()
    kiosk.reader.remove()
    assert kiosk.clock.pending() == []


# Reader health and shutdown -----------------------------------------------------------------

def test_losing_the_reader_ends_the_session(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.reader.set_health(Health(HealthState.MISSING, "pcsc-unavailable", "pcscd down"))
    assert kiosk.screen is ScreenName.ATTRACT and not kiosk.view.session_active
    assert not kiosk.view.reader_available
    kiosk.reader.set_health(Health(HealthState.OK))
    assert kiosk.view.reader_available


def test_a_degraded_reader_is_still_used(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.reader.set_health(Health(HealthState.DEGRADED, "slow", "slow reads"))
    assert kiosk.view.session_active and kiosk.view.reader_available


def test_close_ends_the_session_at_the_edge(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.flow.close()
    assert not kiosk.flow.session_active and kiosk.flow.view.screen is ScreenName.ATTRACT
    kiosk.tasks.run_all()
    assert len(kiosk.edge.end_calls) == 1
    assert kiosk.clock.pending() == []


# Retries run out -----------------------------------------------------------------------------

def test_identifying_gives_up_after_the_retries_and_asks_for_the_card_back() -> None:
    k = Kiosk(ScriptedEdge(open_script=[EdgeUnreachable("refused")]))
    k.reader.insert(sample_card())
    k.tasks.run_all()
    for delay in (2, 4, 8, 16, 30):  # CONFIG's backoff, CONFIG.retry.max_retries times
        assert k.view.notice is not None and k.view.notice.retrying
        assert k.clock.pending() == [delay]
        k.clock.advance(delay)
        k.tasks.run_all()

    notice = k.view.notice
    assert k.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == Msg.TRY_LATER and not notice.retrying and notice.actions == (Action.OK,)
    assert k.clock.pending() == []
    assert len(k.edge.open_calls) == 1 + CONFIG.retry.max_retries
    assert len({key for _, key in k.edge.open_calls}) == 1  # one logical action, one key
    k.tap(Action.OK)
    assert k.screen is ScreenName.ENDING  # "please take your card"
    k.reader.remove()
    assert k.screen is ScreenName.ATTRACT


def test_benefits_give_up_after_the_retries_with_a_way_back() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeProblem(codes.CENTRAL_UNAVAILABLE, 503)]))
    k.at_home()
    k.show_benefits()
    k.tasks.run_all()
    for delay in (2, 4, 8, 16, 30):
        k.flow.handle(Activity())  # the citizen is watching: the idle timeout stays away
        k.clock.advance(delay)
        k.tasks.run_all()

    notice = k.view.notice
    assert notice is not None and notice.key == Msg.TRY_LATER
    assert notice.actions == (Action.BACK,) and k.view.session_active
    assert len(k.edge.benefits_calls) == 1 + CONFIG.retry.max_retries
    k.tap(Action.BACK)
    assert k.screen is ScreenName.HOME


# Every way a session ends wipes it ----------------------------------------------------------

def _end_by_tapping_end(k: Kiosk) -> None:
    k.tap(Action.END)


def _end_by_removing_the_card(k: Kiosk) -> None:
    k.reader.remove()


def _end_by_idle_timeout(k: Kiosk) -> None:
    k.clock.advance(CONFIG.idle_timeout_s)


def _end_by_losing_the_reader(k: Kiosk) -> None:
    k.reader.set_health(Health(HealthState.MISSING, "reader-missing", "unplugged"))


def _end_by_a_new_card_without_a_removal(k: Kiosk) -> None:
    k.reader.insert_failing(CardFailure.UNREADABLE)  # the CardRemoved event was lost


def _end_by_closing_the_app(k: Kiosk) -> None:
    k.flow.close()


@pytest.mark.parametrize("end", [
    _end_by_tapping_end, _end_by_removing_the_card, _end_by_idle_timeout,
    _end_by_losing_the_reader, _end_by_a_new_card_without_a_removal, _end_by_closing_the_app,
])
def test_every_way_a_session_ends_wipes_it_and_ends_it_at_the_edge(kiosk: Kiosk, end) -> None:
    kiosk.at_home()
    kiosk.show_benefits()
    kiosk.tasks.run_all()
    session = kiosk.flow.session
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]  # the journey's own data
    assert session is not None and isinstance(steps.shown().data, Benefits)

    end(kiosk)

    assert kiosk.flow.session is None and not kiosk.view.session_active
    assert kiosk.flow._active is None and steps.shown().data is None
    assert session.wiped and session.display_name == ""
    assert session.session_id == ""
    assert kiosk.view.display_name == "" and kiosk.view.content is None
    assert kiosk.view.idle_seconds_left is None
    kiosk.tasks.run_all()
    assert [sid for sid, _ in kiosk.edge.end_calls] == ["ses_0001"]


def test_an_expired_session_is_wiped_too() -> None:
    k = Kiosk(ScriptedEdge(benefits_script=[EdgeProblem(codes.SESSION_NOT_FOUND, 404)]))
    k.at_home()
    session = k.flow.session
    k.show_benefits()
    k.tasks.run_all()
    assert session is not None and session.wiped and k.flow.session is None
