"""Pension payments and insurance participation: load and show, in pages."""

from __future__ import annotations

import datetime as dt

from kiosk.edge.models import Benefits
from kiosk.flow.journeys.base import Journey, always, load_and_show
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
    start=load_and_show("benefits", ScreenName.BENEFITS, _load, _freshness, _rows),
    has_fn=always,  # every edge serves it
)
