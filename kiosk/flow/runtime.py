"""Performs the flow's effects (kiosk.flow.effects): edge calls on the task runner, their
outcomes delivered back to the flow as `EdgeAnswered` events on the flow's thread."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from kiosk.flow.effects import Effect, EndRemote, LoadJourney, OpenSession
from kiosk.flow.events import EdgeAnswered, FlowEvent
from kiosk.flow.journeys import Journey
from kiosk.flow.ports import EdgePort, Outcome, TaskRunner

log = logging.getLogger(__name__)


class EffectRunner:
    def __init__(self, edge: EdgePort, tasks: TaskRunner, journeys: Mapping[str, Journey],
                 deliver: Callable[[FlowEvent], None]) -> None:
        self._edge = edge
        self._tasks = tasks
        self._journeys = journeys
        self._deliver = deliver

    def perform(self, effect: Effect) -> None:
        edge = self._edge
        match effect:
            case OpenSession(request=request, key=key, credential=credential):
                self._ask(request, effect.kind,
                          lambda: edge.open_session(credential, idempotency_key=key))
            case LoadJourney(request=request, journey=name, session_id=session_id):
                load = self._journeys[name].load
                self._ask(request, name, lambda: load(edge, session_id))
            case EndRemote(session_id=session_id, key=key):
                self._tasks.submit(
                    lambda: edge.end_session(session_id, idempotency_key=key), _ended
                )

    def _ask(self, request: int, kind: str, job: Callable[[], object]) -> None:
        self._tasks.submit(
            job, lambda outcome: self._deliver(EdgeAnswered(request, kind, outcome))
        )


def _ended(outcome: Outcome[None]) -> None:
    if not outcome.ok:
        # Harmless: the edge expires sessions by itself (expires_at).
        log.warning("flow: ending the session at the edge failed (%s)", outcome.error)
