"""A step's effects are frozen data: read them straight from the flow, no edge, no workers."""

from __future__ import annotations

from drivers.card.fake import FakeCardReader
from kiosk.edge.errors import EdgeUnreachable
from kiosk.flow import Action, KioskFlow, ScreenName, Tap
from kiosk.flow.effects import Effect, EndRemote, JourneyCall, OpenSession
from kiosk.flow.events import EdgeAnswered, RetryDue
from kiosk.flow.ports import Outcome
from tests.kiosk.fakes import ManualClock, ScriptedEdge, sample_card, sample_opened


def _flow() -> tuple[KioskFlow, list[Effect], FakeCardReader]:
    effects: list[Effect] = []
    keys = iter(f"key-{i}" for i in range(1, 100))
    flow = KioskFlow(ScriptedEdge(), tasks=None, scheduler=ManualClock(),  # type: ignore[arg-type]
                     new_key=lambda: next(keys), perform=effects.append)
    reader = FakeCardReader()
    reader.subscribe(flow.handle)
    return flow, effects, reader


def test_a_card_read_asks_to_open_a_session_and_a_retry_repeats_the_same_effect() -> None:
    flow, effects, reader = _flow()
    reader.insert(sample_card())
    (opened,) = effects
    assert isinstance(opened, OpenSession)
    assert (opened.request, opened.key, opened.method) == (1, "key-1", "card")
    assert set(opened.credential.fields) == {"citizen_id", "card_number"}

    flow.handle(EdgeAnswered(1, "open", Outcome(error=EdgeUnreachable("down"))))
    flow.handle(RetryDue(1))
    assert effects == [opened, opened]  # the same key on the retry: one logical action


def test_journeys_and_endings_are_effects_too() -> None:
    flow, effects, reader = _flow()
    reader.insert(sample_card())
    flow.handle(EdgeAnswered(1, "open", Outcome(value=sample_opened("ses_e"))))
    flow.handle(Tap(Action.START_JOURNEY, "benefits"))
    load = effects[-1]
    assert isinstance(load, JourneyCall) and (load.request, load.journey, load.kind) == (
        2, "benefits", "benefits")
    edge = ScriptedEdge()
    load.call.run(edge)
    assert edge.benefits_calls == ["ses_e"]  # the call is about this citizen's session
    reader.remove()
    assert effects[-1] == EndRemote("ses_e", "key-2")
    assert flow.view.screen is ScreenName.ATTRACT


def test_a_stale_opened_session_is_ended_at_once() -> None:
    flow, effects, reader = _flow()
    reader.insert(sample_card())
    reader.remove()  # pulled while the edge was answering
    flow.handle(EdgeAnswered(1, "open", Outcome(value=sample_opened("ses_late"))))
    assert effects[-1] == EndRemote("ses_late", "key-2")
    assert not flow.session_active
