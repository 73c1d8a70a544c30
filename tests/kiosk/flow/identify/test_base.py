"""The identification protocol takes a second method as one module + one registration line.

`StaffIdNumber` below is that module (a staff member types the citizen's ID number, as the
coming staff method will): no presence token, a single event that converges on Identified.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.card.fake import FakeCardReader
from kiosk.edge.models import Credential
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.identify import METHODS
from kiosk.flow.identify.base import Identified, Intent
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge, sample_card, sample_opened


@dataclass(frozen=True)
class IdNumberTyped:
    citizen_id: str


@dataclass(frozen=True)
class StaffIdNumber:
    key: str = "id-number"
    holds_presence: bool = False

    def interpret(self, event: object) -> Intent | None:
        if isinstance(event, IdNumberTyped):
            return Identified(Credential(self.key, {"citizen_id": event.citizen_id}))
        return None


class Terminal:
    def __init__(self) -> None:
        self.edge = ScriptedEdge(open_script=[sample_opened("ses_a"), sample_opened("ses_b")])
        self.tasks = ManualTasks()
        self.flow = KioskFlow(self.edge, self.tasks, ManualClock(),
                              methods=(*METHODS, StaffIdNumber()))  # the registration line
        self.reader = FakeCardReader()
        self.reader.subscribe(self.flow.handle)

    def type_id(self, citizen_id: str) -> None:
        self.flow.handle(IdNumberTyped(citizen_id))
        self.tasks.run_all()


def test_a_second_method_identifies_through_the_same_core() -> None:
    t = Terminal()
    t.flow.handle(IdNumberTyped("11010519491231002X"))
    assert t.flow.view.screen is ScreenName.IDENTIFYING
    t.tasks.run_all()

    assert t.flow.view.screen is ScreenName.HOME
    assert t.flow.view.journeys == ("benefits", "contributions", "pension-account", "apply",
                                   "applications")
    credential, _key = t.edge.open_calls[0]
    assert credential.body() == {"method": "id-number",
                                 "id-number": {"citizen_id": "11010519491231002X"}}
    assert t.flow.session is not None and t.flow.session.method == "id-number"

    t.flow.handle(Tap(Action.END))
    # No card to take back: straight to attract, and the session ended at the edge.
    assert t.flow.view.screen is ScreenName.ATTRACT
    t.tasks.run_all()
    assert [sid for sid, _ in t.edge.end_calls] == ["ses_a"]


def test_a_card_pulled_elsewhere_does_not_end_a_session_of_another_method() -> None:
    t = Terminal()
    t.type_id("11010519491231002X")
    t.reader.remove()
    assert t.flow.view.screen is ScreenName.HOME and t.flow.session_active


def test_a_card_going_in_starts_a_new_citizen_and_ends_the_typed_one() -> None:
    t = Terminal()
    t.type_id("11010519491231002X")
    t.reader.insert(sample_card())
    assert t.flow.view.screen is ScreenName.IDENTIFYING
    t.tasks.run_all()
    assert t.flow.view.screen is ScreenName.HOME and t.flow.session is not None
    assert t.flow.session.method == "card"
    assert [sid for sid, _ in t.edge.end_calls] == ["ses_a"]


def test_one_operator_session_serves_citizens_one_after_another() -> None:
    # Field mode: a staff member types one villager's number after another.
    t = Terminal()
    operator = t.flow.operator_session
    t.type_id("11010519491231002X")
    first = t.flow.session
    t.type_id("110105194912310037")
    second = t.flow.session

    assert first is not None and first.wiped and second is not None and not second.wiped
    assert t.flow.operator_session is operator and operator.served == 1
    assert [sid for sid, _ in t.edge.end_calls] == ["ses_a"]
    keys = [key for _, key in t.edge.open_calls]
    assert len(set(keys)) == 2  # two citizens, two logical actions
