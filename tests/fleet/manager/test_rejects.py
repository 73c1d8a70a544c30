"""Rejects are all counted, but logged at a bounded rate."""

from __future__ import annotations

import logging

import pytest

from fleet.manager.registry import RejectReason
from fleet.manager.rejects import Rejects


def test_every_reject_is_counted_and_at_most_the_budget_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    rejects = Rejects(per_minute=3, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="fleet.manager.rejects"):
        for _ in range(100):
            rejects.reject(RejectReason.DECODE, "hrss/v1/dev/T-1/health", "seq: less_than_equal")
        rejects.reject(RejectReason.STORE_FAILED, "hrss/v1/dev/T-2/birth", "IntegrityError")
        assert len(caplog.records) == 3
        now[0] = 61.0  # the next minute: a summary of what was not logged, then the budget again
        rejects.reject(RejectReason.TOPIC, "x", "not a device topic")
    assert "98 more rejected messages" in caplog.records[3].getMessage()
    assert "decode: 97" in caplog.records[3].getMessage()
    assert len(caplog.records) == 5
    assert rejects.total == 102
    assert rejects.counts() == {"topic": 1, "decode": 100, "device-mismatch": 0,
                                "session-ahead": 0, "store-failed": 1, "too-large": 0}
