"""Field mode: preparing a trip, online before leaving (edge: POST /api/v1/field/trips).

    attract ─START→ (staff logged in) keypad (village code) ─NEXT→ [prepare the trip]
      → confirm screen: the village, how many pensioners are due, until when the roster holds
      ─DONE/BACK→ LEAVE

Without a live staff session the journey leaves at once (the login comes first).
"""

from __future__ import annotations

from common.clock import to_china
from kiosk.field.edge_calls import TripPrepared, field_port
from kiosk.field.kit import FIELD_CAPABILITY, FieldKit, installed_field
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import (
    LEAVE,
    Call,
    Capabilities,
    Entry,
    Journey,
    JourneyContext,
    Shown,
    Step,
)
from kiosk.flow.journeys.steps import Confirmation, FieldEntry, KeypadKind, Row, Typed
from kiosk.flow.screens import Action, ScreenName

KEY = "field-trip"


def village_entry() -> FieldEntry:
    return FieldEntry("village", "field.village", KeypadKind.DIGITS, 6, 12)


class FieldTripSteps:
    def __init__(self, _ctx: JourneyContext, kit: FieldKit | None) -> None:
        self._kit = kit
        self._village = village_entry()
        self._call: Call | None = None
        self.trip: TripPrepared | None = None

    def begin(self) -> Step:
        if self._kit is None or self._kit.sessions.touch() is None:
            return LEAVE
        return None

    def on_tap(self, tap: Tap) -> Step:
        if self._kit is None or self._kit.sessions.touch() is None:
            return LEAVE  # the staff session ended meanwhile
        if self.trip is not None:
            return LEAVE if tap.action in (Action.DONE, Action.BACK, Action.CONFIRM) else None
        if tap.action is Action.BACK:
            return LEAVE
        if self._village.on_tap(tap) is Typed.DONE:
            village = self._village.value
            self._call = Call("field-trip",
                              lambda edge: field_port(edge).prepare_trip(village),
                              busy=ScreenName.LOADING)
            return self._call
        return None

    def on_answer(self, call: Call, value: object) -> Step:
        if call is self._call and isinstance(value, TripPrepared):
            self._call, self.trip = None, value
        return None

    def shown(self) -> Shown:
        trip = self.trip
        if trip is None:
            return Shown(ScreenName.KEYPAD, self._village.keypad(1, 1))
        until = to_china(trip.expires_at)
        return Shown(ScreenName.CONFIRM, Confirmation(
            (Row("field.village", trip.village),
             Row("field.trip.entries", str(trip.entries)),
             Row("field.trip.expires", f"{until:%m-%d %H:%M}")),
            warning="field.trip.prepared",
        ))

    def wipe(self) -> None:
        self._village.wipe()
        self._call = None


def _offered(capabilities: Capabilities) -> bool:
    return FIELD_CAPABILITY in capabilities


FIELD_TRIP = Journey(
    key=KEY,
    home_target="attract.field-trip",
    screens=(ScreenName.KEYPAD, ScreenName.CONFIRM),
    start=lambda ctx: FieldTripSteps(ctx, installed_field()),
    entry=Entry.ATTRACT,
    has_fn=_offered,
)
