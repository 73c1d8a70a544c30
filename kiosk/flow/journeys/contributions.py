"""Contributions by year and scheme (缴费记录): load and show, in pages."""

from __future__ import annotations

import datetime as dt

from kiosk.edge.models import Contributions
from kiosk.flow.journeys.base import Journey, always, load_and_show
from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import ScreenName


def _load(edge: EdgePort, session_id: str) -> Contributions:
    return edge.get_contributions(session_id)


def _freshness(payload: object) -> tuple[dt.datetime | None, bool]:
    assert isinstance(payload, Contributions)
    return payload.as_of, payload.stale


def _rows(payload: object) -> int:
    assert isinstance(payload, Contributions)
    return len(payload.items)


CONTRIBUTIONS = Journey(
    key="contributions",
    home_target="home.contributions",
    screens=(ScreenName.CONTRIBUTIONS,),
    start=load_and_show("contributions", ScreenName.CONTRIBUTIONS, _load, _freshness, _rows),
    has_fn=always,  # every edge serves it
)
