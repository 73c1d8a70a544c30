"""Pension payments and insurance participation: the first journey."""

from __future__ import annotations

import datetime as dt

from kiosk.edge.models import Benefits
from kiosk.flow.journeys.base import Journey, always
from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import ScreenName


def _load(edge: EdgePort, session_id: str) -> Benefits:
    return edge.get_benefits(session_id)


def _freshness(payload: object) -> tuple[dt.datetime | None, bool]:
    assert isinstance(payload, Benefits)
    return payload.as_of, payload.stale


def _rows(payload: object) -> int:
    assert isinstance(payload, Benefits)
    return len(payload.pension_payments)


BENEFITS = Journey(
    key="benefits",
    home_target="home.benefits",
    screens=(ScreenName.BENEFITS,),
    load=_load,
    freshness=_freshness,
    rows=_rows,
    has_fn=always,  # every edge serves it
)
