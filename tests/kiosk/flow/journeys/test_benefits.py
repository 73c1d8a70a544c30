"""The benefits journey as a descriptor: what the core reads from it."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.journeys.benefits import BENEFITS
from kiosk.flow.screens import ScreenName
from tests.kiosk.fakes import AS_OF, ScriptedEdge, sample_benefits


def test_the_descriptor_is_frozen_data() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BENEFITS.key = "other"  # type: ignore[misc]
    assert (BENEFITS.key, BENEFITS.home_target, BENEFITS.screen) == (
        "benefits", "home.benefits", ScreenName.BENEFITS)
    assert BENEFITS.has_fn(frozenset()) and BENEFITS in JOURNEYS


def test_it_loads_from_the_edge_and_reads_its_payload() -> None:
    edge = ScriptedEdge(benefits_script=[sample_benefits(14, stale=True)])
    payload = BENEFITS.load(edge, "ses_0001")
    assert edge.benefits_calls == ["ses_0001"]
    assert BENEFITS.freshness(payload) == (AS_OF, True)
    assert BENEFITS.rows(payload) == 14
