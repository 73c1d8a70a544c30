"""The pension personal account (养老保险个人账户): its balance and yearly entries, in pages."""

from __future__ import annotations

import datetime as dt

from kiosk.edge.models import PensionAccount
from kiosk.flow.journeys.base import Journey, always, load_and_show
from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import ScreenName


def _load(edge: EdgePort, session_id: str) -> PensionAccount:
    return edge.get_pension_account(session_id)


def _freshness(payload: object) -> tuple[dt.datetime | None, bool]:
    assert isinstance(payload, PensionAccount)
    return payload.as_of, payload.stale


def _rows(payload: object) -> int:
    assert isinstance(payload, PensionAccount)
    return len(payload.items)


PENSION_ACCOUNT = Journey(
    key="pension-account",
    home_target="home.pension-account",
    screens=(ScreenName.PENSION_ACCOUNT,),
    start=load_and_show("pension-account", ScreenName.PENSION_ACCOUNT, _load, _freshness,
                        _rows),
    has_fn=always,  # every edge serves it
)
