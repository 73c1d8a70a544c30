"""The contributions and pension-account journeys as descriptors: what the core reads from
them, and the core running them from the home screen."""

from __future__ import annotations

import pytest

from kiosk.flow.events import Tap
from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.journeys.base import LEAVE, Call, JourneyContext
from kiosk.flow.journeys.contributions import CONTRIBUTIONS
from kiosk.flow.journeys.pension_account import PENSION_ACCOUNT
from kiosk.flow.screens import Action, ScreenName
from tests.kiosk.fakes import AS_OF, ScriptedEdge, sample_contributions, sample_pension_account


def test_both_are_offered_from_home_after_the_benefits() -> None:
    keys = [j.key for j in JOURNEYS]
    assert keys[:3] == ["benefits", "contributions", "pension-account"]
    assert (CONTRIBUTIONS.home_target, CONTRIBUTIONS.screen) == (
        "home.contributions", ScreenName.CONTRIBUTIONS)
    assert (PENSION_ACCOUNT.home_target, PENSION_ACCOUNT.screen) == (
        "home.pension-account", ScreenName.PENSION_ACCOUNT)
    assert CONTRIBUTIONS.has_fn(frozenset()) and PENSION_ACCOUNT.has_fn(frozenset())


@pytest.mark.parametrize(("journey", "screen", "script", "calls", "sample"), [
    (CONTRIBUTIONS, ScreenName.CONTRIBUTIONS, "contributions_script", "contributions_calls",
     sample_contributions),
    (PENSION_ACCOUNT, ScreenName.PENSION_ACCOUNT, "account_script", "account_calls",
     sample_pension_account),
], ids=["contributions", "pension-account"])
def test_it_loads_from_the_edge_and_shows_its_payload_in_pages(journey, screen, script, calls,
                                                               sample) -> None:
    edge = ScriptedEdge()
    setattr(edge, script, [sample(14, stale=True)])
    steps = journey.start(JourneyContext("ses_0001", lambda: "key", page_size=6))
    call = steps.begin()
    assert isinstance(call, Call) and not call.submits  # a read: no Idempotency-Key
    payload = call.run(edge)
    assert getattr(edge, calls) == ["ses_0001"]
    assert steps.on_answer(call, payload) is None
    shown = steps.shown()
    assert (shown.screen, shown.as_of, shown.stale, shown.fresh) == (screen, AS_OF, True, True)
    assert (shown.page, shown.page_count) == (0, 3)  # 14 years, 6 a page
    for _ in range(3):
        steps.on_tap(Tap(Action.NEXT_PAGE))
    assert steps.shown().page == 2  # never past the last page
    steps.on_tap(Tap(Action.PREVIOUS_PAGE))
    assert steps.shown().page == 1
    assert steps.on_tap(Tap(Action.BACK)) is LEAVE
    steps.wipe()
    assert steps.shown().data is None  # nothing of the citizen's kept after the journey


def test_no_years_is_one_empty_page() -> None:
    edge = ScriptedEdge(account_script=[sample_pension_account(0)])
    steps = PENSION_ACCOUNT.start(JourneyContext("ses_0001", lambda: "key", page_size=6))
    call = steps.begin()
    assert isinstance(call, Call)
    steps.on_answer(call, call.run(edge))
    assert (steps.shown().page, steps.shown().page_count) == (0, 1)
