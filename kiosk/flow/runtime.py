"""Performs the flow's effects (kiosk.flow.effects): edge calls on the task runner, their
outcomes delivered back to the flow as `EdgeAnswered` events on the flow's thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.flow.effects import Effect, EndRemote, JourneyCall, OpenSession
from kiosk.flow.events import EdgeAnswered, FlowEvent
from kiosk.flow.ports import EdgePort, Outcome, TaskRunner

log = logging.getLogger(__name__)


class EffectRunner:
    def __init__(self, edge: EdgePort, tasks: TaskRunner,
                 deliver: Callable[[FlowEvent], None]) -> None:
        self._edge = edge
        self._tasks = tasks
        self._deliver = deliver

    def perform(self, effect: Effect) -> None:
        edge = self._edge
        match effect:
            case OpenSession(request=request, key=key, credential=credential):
                self._ask(request, effect.kind,
                          lambda: edge.open_session(credential, idempotency_key=key))
            case JourneyCall(request=request, call=call):
                self._ask(request, call.name, lambda: call.run(edge))
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
