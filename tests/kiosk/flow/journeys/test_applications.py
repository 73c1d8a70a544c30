"""The applications journey: the list with what is still queued, then one history."""

from __future__ import annotations

from kiosk.edge.errors import EdgeUnreachable
from kiosk.edge.models import Application, ApplicationStatus
from kiosk.flow import Action, ScreenName, Tap
from kiosk.flow.journeys.applications import ApplicationList
from tests.kiosk.fakes import AS_OF, ScriptedEdge, sample_applications
from tests.kiosk.flow.test_core import Kiosk


def _at_list(kiosk: Kiosk) -> ApplicationList:
    kiosk.at_home()
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "applications"))
    kiosk.tasks.run_all()
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.APPLICATIONS and content is not None
    assert isinstance(content.data, ApplicationList)
    return content.data


def test_the_list_shows_applications_and_queued_submissions() -> None:
    kiosk = Kiosk(ScriptedEdge(applications_script=[sample_applications(queued=2)]))
    shown = _at_list(kiosk)
    assert [i for i, _ in shown.rows] == [0, 1]
    assert len(shown.applications.queued) == 2
    assert kiosk.edge.applications_calls == ["ses_0001"]
    assert kiosk.view.as_of == AS_OF


def test_one_application_shows_its_history_and_back_returns_to_the_list() -> None:
    kiosk = Kiosk()
    _at_list(kiosk)
    kiosk.flow.handle(Tap(Action.CHOOSE, value="0"))
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.APPLICATION and content is not None
    assert isinstance(content.data, Application)
    assert [h.status for h in content.data.history][-2:] == [
        ApplicationStatus.DISBURSED, ApplicationStatus.BANK_RETURNED]
    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.APPLICATIONS
    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.HOME


def test_the_edge_down_while_loading_back_leads_home() -> None:
    kiosk = Kiosk(ScriptedEdge(applications_script=[EdgeUnreachable("down")]))
    kiosk.at_home()
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "applications"))
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.MESSAGE
    kiosk.tap(Action.BACK)  # nothing of the journey was shown yet: back to the services
    assert kiosk.screen is ScreenName.HOME and kiosk.flow._active is None
