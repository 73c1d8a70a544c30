"""The kiosk's session flow, free of Kivy so that every path is unit-testable.

`KioskFlow.handle(event)` takes card driver events, taps, edge answers and timer events on one
thread and produces a `View`; `ports` names what it needs (a scheduler, a task runner, the edge).
"""

from kiosk.flow.backoff import Backoff
from kiosk.flow.events import Activity, Tap
from kiosk.flow.machine import FlowConfig, KioskFlow
from kiosk.flow.messages import Msg
from kiosk.flow.ports import Cancellable, EdgePort, Outcome, Scheduler, TaskRunner
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.session import Session
from kiosk.flow.view import Notice, Tone, View

__all__ = [
    "Action",
    "Activity",
    "Backoff",
    "Cancellable",
    "EdgePort",
    "FlowConfig",
    "KioskFlow",
    "Msg",
    "Notice",
    "Outcome",
    "Scheduler",
    "ScreenName",
    "Session",
    "Tap",
    "TaskRunner",
    "Tone",
    "View",
]
