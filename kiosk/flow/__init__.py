"""The kiosk's session flow, free of Kivy and httpx so that every path is unit-testable.

`KioskFlow.handle(event)` (kiosk.flow.core) takes device events, taps, edge answers and timer
events on one thread and produces a `View`. Ways of identifying live in `identify/`, journeys
in `journeys/`; edge calls leave as effects (`effects`) performed by `runtime`, retried by the
one policy in `retry`; `ports` names what the flow needs from outside.
"""

from kiosk.flow.core import FlowConfig, KioskFlow
from kiosk.flow.events import Activity, Tap
from kiosk.flow.messages import Msg
from kiosk.flow.ports import Cancellable, EdgePort, Outcome, Scheduler, TaskRunner
from kiosk.flow.retry import RetryPolicy
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.session import OperatorSession, Session
from kiosk.flow.view import Content, Notice, Tone, View

__all__ = [
    "Action",
    "Activity",
    "Cancellable",
    "Content",
    "EdgePort",
    "FlowConfig",
    "KioskFlow",
    "Msg",
    "Notice",
    "OperatorSession",
    "Outcome",
    "RetryPolicy",
    "Scheduler",
    "ScreenName",
    "Session",
    "Tap",
    "TaskRunner",
    "Tone",
    "View",
]
