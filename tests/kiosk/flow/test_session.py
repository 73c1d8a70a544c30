"""Citizen sessions inside an operator session, wiped as they end."""

from __future__ import annotations

from kiosk.flow.session import OperatorSession, Session
from tests.kiosk.fakes import sample_opened


def test_a_session_wipes_everything_it_holds() -> None:
    session = Session.from_opened(sample_opened("ses_x"), "card")
    session.content["benefits"] = object()
    session.wipe()
    assert (session.session_id, session.display_name, session.content) == ("", "", {})
    assert session.wiped and "ses_x" not in repr(session)


def test_an_operator_session_holds_one_citizen_at_a_time() -> None:
    shift = OperatorSession(operator="staff-7")
    first = Session.from_opened(sample_opened("ses_1"), "id-number")
    second = Session.from_opened(sample_opened("ses_2"), "id-number")

    shift.begin(first)
    shift.begin(second)  # the next villager: the one before is ended and wiped
    assert first.wiped and shift.citizen is second and shift.served == 1
    assert shift.end_citizen() is second and second.wiped
    assert shift.citizen is None and shift.served == 2
    assert shift.end_citizen() is None and shift.served == 2
    assert "staff-7" not in repr(shift)
