"""A second journey is one descriptor + one registration; `has_fn` decides if it is offered."""

from __future__ import annotations

import datetime as dt

from drivers.card.fake import FakeCardReader
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.journeys import JOURNEYS, Journey
from kiosk.flow.journeys.base import load_and_show
from kiosk.flow.ports import EdgePort
from tests.kiosk.fakes import ManualClock, ManualTasks, ScriptedEdge, sample_card


def _load_proof(edge: EdgePort, session_id: str) -> object:
    return ("proof", session_id)


def _no_freshness(_payload: object) -> tuple[dt.datetime | None, bool]:
    return None, False


# A "print a proof of insurance" journey that needs a printer. Its screen would be its own;
# the benefits screen stands in for it here.
PRINTED_PROOF = Journey(
    key="proof", home_target="home.proof", screens=(ScreenName.BENEFITS,),
    start=load_and_show("proof", ScreenName.BENEFITS, _load_proof, _no_freshness,
                        lambda _p: 1),
    has_fn=lambda caps: "printer" in caps,
)


def _at_home(capabilities: frozenset[str]) -> tuple[KioskFlow, ManualTasks]:
    tasks = ManualTasks()
    flow = KioskFlow(ScriptedEdge(), tasks, ManualClock(),
                     journeys=(*JOURNEYS, PRINTED_PROOF), capabilities=capabilities)
    reader = FakeCardReader()
    reader.subscribe(flow.handle)
    reader.insert(sample_card())
    tasks.run_all()
    assert flow.view.screen is ScreenName.HOME
    return flow, tasks


def test_a_journey_is_offered_only_with_what_it_needs() -> None:
    without, _ = _at_home(frozenset())
    offered = tuple(j.key for j in JOURNEYS if j.entry == "home" and j.has_fn(frozenset()))
    assert "certify" not in offered  # it needs a camera and a face engine
    assert without.view.journeys == offered
    without.handle(Tap(Action.START_JOURNEY, "proof"))
    assert without.view.screen is ScreenName.HOME  # not offered: the tap does nothing

    with_printer, _ = _at_home(frozenset({"printer"}))
    printing = tuple(j.key for j in JOURNEYS
                     if j.entry == "home" and j.has_fn(frozenset({"printer"})))
    assert "certificate" in printing and "certificate" not in offered
    assert with_printer.view.journeys == (*printing, "proof")


def test_the_view_carries_the_journeys_own_payload() -> None:
    flow, tasks = _at_home(frozenset({"printer"}))
    flow.handle(Tap(Action.START_JOURNEY, "proof"))
    assert flow.view.screen is ScreenName.LOADING
    tasks.run_all()
    content = flow.view.content
    assert content is not None and content.journey == "proof"
    assert content.data == ("proof", "ses_0001") and content.page_count == 1
