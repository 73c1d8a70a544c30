"""Maintenance in the flow (no window): the out-of-service notice never cuts a citizen, shows
the moment nobody is served, lets nothing citizen-facing work, and leaves when turned off."""

from __future__ import annotations

import pytest

from kiosk.flow import Action, Msg, ScreenName, Tap
from kiosk.flow.events import MaintenanceSet
from tests.kiosk.fakes import sample_card
from tests.kiosk.flow.test_core import Kiosk


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def _out_of_service(kiosk: Kiosk) -> bool:
    notice = kiosk.view.notice
    return kiosk.screen is ScreenName.MESSAGE and notice is not None and (
        notice.key == Msg.MAINTENANCE)


def test_on_while_idle_shows_at_once_with_the_reason_and_nothing_to_tap(kiosk: Kiosk) -> None:
    kiosk.flow.handle(MaintenanceSet(True, "更换打印纸"))
    assert _out_of_service(kiosk) and kiosk.flow.maintenance == (True, False)
    notice = kiosk.view.notice
    assert notice is not None and notice.actions == () and notice.detail == "更换打印纸"
    assert notice.journey is None and notice.ways == ()
    assert not kiosk.flow.serving_citizen

    kiosk.flow.handle(MaintenanceSet(True, "network work"))  # a new reason replaces the old
    assert kiosk.view.notice is not None and kiosk.view.notice.detail == "network work"

    kiosk.flow.handle(MaintenanceSet(False))
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow.maintenance == (False, False)


def test_a_session_is_not_cut_and_the_notice_shows_when_it_ends(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.flow.handle(MaintenanceSet(True, "update"))
    assert kiosk.screen is ScreenName.HOME and kiosk.view.session_active
    assert kiosk.flow.maintenance == (True, True) and kiosk.flow.serving_citizen

    kiosk.show_benefits()  # the citizen carries on as if nothing happened
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.BENEFITS and kiosk.flow.maintenance == (True, True)

    kiosk.tap(Action.END)
    assert kiosk.screen is ScreenName.ENDING  # "please take your card" first
    kiosk.reader.remove()
    assert _out_of_service(kiosk) and kiosk.flow.maintenance == (True, False)


def test_nothing_citizen_facing_works_while_out_of_service(kiosk: Kiosk) -> None:
    kiosk.flow.handle(MaintenanceSet(True, ""))
    kiosk.reader.insert(sample_card())
    kiosk.tasks.run_all()
    assert _out_of_service(kiosk) and kiosk.edge.open_calls == []  # no session opened
    for action in (Action.OK, Action.BACK, Action.END):
        kiosk.tap(action)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    assert _out_of_service(kiosk)
    kiosk.reader.remove()
    assert _out_of_service(kiosk)

    kiosk.flow.handle(MaintenanceSet(False))
    kiosk.reader.insert(sample_card())  # served again
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.HOME


def test_turned_off_while_pending_the_citizen_never_sees_it(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.flow.handle(MaintenanceSet(True, "x"))
    kiosk.flow.handle(MaintenanceSet(False))
    assert kiosk.flow.maintenance == (False, False)
    kiosk.tap(Action.END)
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT
    assert all(v.notice is None or v.notice.key != Msg.MAINTENANCE for v in kiosk.views)
