"""HealthTracker: change detection, one INFO line per change, HealthChanged published."""

from __future__ import annotations

import json
import logging

import pytest

from drivers.base import DeviceEvent, Health, HealthChanged, HealthState, HealthTracker
from drivers.card.interface import CardHealthCode

LOGGER = "tests.drivers.health"


@pytest.fixture
def tracked() -> tuple[HealthTracker, list[DeviceEvent]]:
    events: list[DeviceEvent] = []
    tracker = HealthTracker(
        "card_reader", events.append, Health(HealthState.MISSING, "reader-missing", "Not started"),
        logging.getLogger(LOGGER),
    )
    return tracker, events


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO
    ]


def test_the_first_finding_is_published_even_when_it_equals_the_initial_health(tracked, caplog):
    tracker, events = tracked
    caplog.set_level(logging.INFO, LOGGER)

    assert tracker.set(HealthState.MISSING, CardHealthCode.READER_MISSING, "No reader")

    assert len(events) == 1 and isinstance(events[0], HealthChanged)
    assert events[0].kind == "card_reader"
    assert events[0].health.code == "reader-missing"
    assert _lines(caplog) == ["card_reader: reader-missing (No reader)"]


def test_one_line_and_one_event_per_change_lost_and_recovered(tracked, caplog):
    tracker, events = tracked
    caplog.set_level(logging.INFO, LOGGER)
    tracker.set(HealthState.OK, CardHealthCode.OK)
    for _ in range(3):  # the same finding again and again: no news
        assert not tracker.set(HealthState.OK, CardHealthCode.OK)
    tracker.set(HealthState.MISSING, CardHealthCode.PCSC_UNAVAILABLE, "The PC/SC service stopped")
    assert not tracker.set(HealthState.MISSING, CardHealthCode.PCSC_UNAVAILABLE, "other words")
    tracker.set(HealthState.MISSING, CardHealthCode.READER_MISSING, "No reader")
    tracker.set(HealthState.OK, CardHealthCode.OK)

    assert [e.health.code for e in events] == [  # type: ignore[attr-defined]
        "ok", "pcsc-unavailable", "reader-missing", "ok",
    ]
    assert _lines(caplog) == [
        "card_reader: ok (ok)",
        "card_reader lost: pcsc-unavailable (The PC/SC service stopped)",
        "card_reader health: reader-missing (No reader)",
        "card_reader recovered (was reader-missing)",
    ]
    assert tracker.current.code == "ok"


def test_a_degraded_state_is_a_change_of_its_own(tracked):
    tracker, events = tracked
    tracker.set(HealthState.OK, CardHealthCode.OK)
    tracker.set(HealthState.DEGRADED, CardHealthCode.READER_BUSY, "Another program")
    assert tracker.current.state is HealthState.DEGRADED
    assert len(events) == 2


def test_restart_publishes_the_next_finding_again(tracked):
    tracker, events = tracked
    tracker.set(HealthState.OK, CardHealthCode.OK)
    tracker.restart()
    assert tracker.set(HealthState.OK, CardHealthCode.OK)
    assert len(events) == 2


def test_health_codes_are_plain_strings_in_json():
    health = Health(HealthState.DEGRADED, CardHealthCode.READER_BUSY, "busy")
    assert health.as_dict()["code"] == "reader-busy"
    assert type(health.as_dict()["state"]) is str
    assert CardHealthCode.READER_BUSY == "reader-busy"
    assert json.loads(json.dumps(health.as_dict()))["code"] == "reader-busy"
