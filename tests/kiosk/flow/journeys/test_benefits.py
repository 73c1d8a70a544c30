"""The benefits journey as a descriptor: what the core reads from it."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.flow.events import Tap
from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.journeys.base import LEAVE, Call, JourneyContext
from kiosk.flow.journeys.benefits import BENEFITS
from kiosk.flow.screens import Action, ScreenName
from tests.kiosk.fakes import AS_OF, ScriptedEdge, sample_benefits


def test_the_descriptor_is_frozen_data() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BENEFITS.key = "other"  # type: ignore[misc]
    assert (BENEFITS.key, BENEFITS.home_target, BENEFITS.screen) == (
        "benefits", "home.benefits", ScreenName.BENEFITS)
    assert BENEFITS.has_fn(frozenset()) and BENEFITS in JOURNEYS


def test_it_loads_from_the_edge_and_shows_its_payload_in_pages() -> None:
    edge = ScriptedEdge(benefits_script=[sample_benefits(14, stale=True)])
    steps = BENEFITS.start(JourneyContext("ses_0001", lambda: "key", page_size=6))
    call = steps.begin()
    assert isinstance(call, Call) and not call.submits
    payload = call.run(edge)
    assert edge.benefits_calls == ["ses_0001"]
    assert steps.on_answer(call, payload) is None
    shown = steps.shown()
    assert (shown.screen, shown.as_of, shown.stale, shown.fresh) == (
        ScreenName.BENEFITS, AS_OF, True, True)
    assert (shown.page, shown.page_count) == (0, 3)  # 14 rows, 6 a page
    steps.on_tap(Tap(Action.NEXT_PAGE))
    steps.on_tap(Tap(Action.NEXT_PAGE))
    steps.on_tap(Tap(Action.NEXT_PAGE))
    assert steps.shown().page == 2  # never past the last page
    assert steps.on_tap(Tap(Action.BACK)) is LEAVE
    steps.wipe()
    assert steps.shown().data is None
