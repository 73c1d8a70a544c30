"""The field journeys' step machines (no display): staff login offline, trip preparation, and
the village loop by ID number handing over to the certify journey's own steps."""

import datetime as dt
import itertools
import random

import pytest

from kiosk.edge.certification import CertificationStatus
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import SessionOpened
from kiosk.field.credentials import StaffCredentials
from kiosk.field.edge_calls import FieldCalls, TripPrepared, field_port
from kiosk.field.kit import FieldKit, capabilities_of, staff_kit
from kiosk.field.session import StaffSessions
from kiosk.flow.certify_kit import CertifyKit
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import LEAVE, Call, JourneyContext
from kiosk.flow.journeys.certify import signed_record
from kiosk.flow.journeys.field_certify import FIELD_CERTIFY, NOT_ON_ROSTER, FieldCertifySteps
from kiosk.flow.journeys.field_login import FIELD_LOGIN, FieldLoginSteps
from kiosk.flow.journeys.field_trip import FieldTripSteps
from kiosk.flow.screens import Action, ScreenName
from provisioning import staff

NOW = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)
CITIZEN = "110105194901010013"  # valid check characters (common.citizen_id)
STRANGER = "110105194901010021"
TEMPLATE = tuple(0.01 * (n % 7) for n in range(128))


def key(char: str) -> Tap:
    return Tap(Action.KEY, value=char)


def typed(steps, text: str):
    for char in text:
        assert steps.on_tap(key(char)) is None
    return steps.on_tap(Tap(Action.NEXT))


class Clock:
    mono = 0.0


@pytest.fixture
def kit(tmp_path):
    path = tmp_path / "staff.json"
    staff.add(path, "100234", "24681357", now=NOW, n=staff.MIN_N)
    clock = Clock()  # the staff session's idle clock stands still here
    sessions = StaffSessions(StaffCredentials(path, tmp_path / "lock.json", clock=lambda: NOW),
                             idle_s=600, monotonic=lambda: clock.mono)
    certify = CertifyKit(camera=object(), prepare=lambda *_: None, draw=lambda _r: ("nod",),
                         evidence_json=lambda _e: {}, evidence_sha256=lambda _j: "0" * 64,
                         sign=lambda record: f"signed:{record['staff_id']}", device_id="field-01",
                         location="村委会", now=lambda: NOW, rng=random.Random(1))
    return FieldKit(sessions, lambda: certify)


def ctx(session_id=None) -> JourneyContext:
    counter = itertools.count()
    return JourneyContext(session_id=session_id, new_key=lambda: f"k{next(counter)}",
                          page_size=5)


def run(call: Call, edge: object) -> object:
    return call.run(edge)


def test_login_checks_the_pin_offline_and_explains_a_wrong_one(kit):
    steps = FieldLoginSteps(ctx(), kit)
    assert steps.begin() is None
    assert steps.shown().screen is ScreenName.KEYPAD
    assert typed(steps, "100234") is None  # on to the PIN
    assert steps.shown().data.kind == "pin" and steps.shown().data.step == 2
    call = typed(steps, "11111111")
    assert isinstance(call, Call)
    assert "1111" not in steps.shown().data.shown  # wiped once handed to the check
    assert steps.on_answer(call, run(call, None)) is None
    assert steps.shown().data.error == "field.login.wrong"
    assert kit.sessions.current() is None
    call = typed(steps, "24681357")
    assert steps.on_answer(call, run(call, None)) is LEAVE
    assert kit.sessions.current().staff_id == "100234"


def test_five_wrong_pins_lock_the_login(kit):
    steps = FieldLoginSteps(ctx(), kit)
    typed(steps, "100234")
    for _ in range(5):
        call = typed(steps, "99999999")
        steps.on_answer(call, run(call, None))
        if steps.result.outcome == "locked":
            break
        steps.on_tap(Tap(Action.ERASE))
    assert steps.result.outcome == "locked"
    assert steps.shown().data.error == "field.login.locked"
    assert steps.shown().data.step == 1  # back to the staff ID


class FakeField:
    def __init__(self) -> None:
        self.trips: list[str] = []
        self.opened: list[tuple[str, str]] = []

    def prepare_trip(self, village: str) -> TripPrepared:
        self.trips.append(village)
        return TripPrepared(trip_id="trip_x", village=village, entries=312, without_template=0,
                            as_of=NOW, prepared_at=NOW, expires_at=NOW + dt.timedelta(hours=36))

    def open_by_id_number(self, citizen_id: str, *, idempotency_key: str) -> SessionOpened:
        if citizen_id != CITIZEN:
            raise EdgeProblem("citizen-not-found", 404)
        self.opened.append((citizen_id, idempotency_key))
        return SessionOpened.model_validate({
            "session_id": "ses_abc", "citizen": {"display_name": "张*", "gender": "1",
                                                 "age": 77, "card_status": "not-presented"}})

    def get_certification(self, session_id: str) -> CertificationStatus:
        assert session_id == "ses_abc"
        return CertificationStatus(status="due", citizen_id=CITIZEN, template=TEMPLATE)


def login(kit) -> None:
    assert kit.sessions.login("100234", "24681357").ok


def test_the_trip_needs_a_staff_session_then_shows_the_roster(kit):
    assert FieldTripSteps(ctx(), kit).begin() is LEAVE
    login(kit)
    edge = FakeField()
    steps = FieldTripSteps(ctx(), kit)
    assert steps.begin() is None
    call = typed(steps, "110105001")
    assert steps.on_answer(call, run(call, edge)) is None
    assert edge.trips == ["110105001"]
    shown = steps.shown()
    assert shown.screen is ScreenName.CONFIRM
    assert ("field.trip.entries", "312") in [(r.label, r.value) for r in shown.data.rows]
    assert steps.on_tap(Tap(Action.DONE)) is LEAVE


def test_a_villager_without_a_card_is_found_by_id_number_then_certified_as_at_the_hall(kit):
    login(kit)
    edge = FakeField()
    steps = FieldCertifySteps(ctx(), kit)
    assert steps.begin() is None
    call = typed(steps, "110105194901010012")  # a wrong check character: refused locally
    assert call is None and steps.shown().data.error is not None
    for _ in range(18):
        steps.on_tap(Tap(Action.ERASE))
    call = typed(steps, CITIZEN)
    assert isinstance(call, Call) and call.key is not None
    status_call = steps.on_answer(call, run(call, edge))
    assert edge.opened == [(CITIZEN, call.key)]
    # The certify journey's own steps take over: its status call, on the roster's session.
    assert isinstance(status_call, Call) and status_call.name == "certification-status"
    assert steps.on_answer(status_call, run(status_call, edge)) is None
    assert steps.shown().screen is ScreenName.CERTIFY
    assert steps.shown().data.state == "due"
    assert CITIZEN not in repr(steps)


def test_someone_not_on_the_roster_is_told_so(kit):
    login(kit)
    steps = FieldCertifySteps(ctx(), kit)
    call = typed(steps, STRANGER)
    assert isinstance(call, Call)
    assert steps.on_answer(call, run(call, FakeField())) is None
    assert steps.shown().data.error == NOT_ON_ROSTER


def test_every_record_of_the_field_kit_names_the_staff_member_and_says_field(kit):
    login(kit)
    certify = staff_kit(kit.certify(), kit.sessions)
    record = signed_record(certify, CITIZEN, {}, "hrss-liveness-1")
    assert (record["method"], record["staff_id"]) == ("field", "100234")
    assert record["signature"] == "signed:100234"  # signed after the stamp


def test_the_field_journeys_are_offered_in_field_mode_only(kit):
    assert FIELD_LOGIN.has_fn(capabilities_of(kit))
    assert not FIELD_LOGIN.has_fn(capabilities_of(None))
    assert not FIELD_CERTIFY.has_fn(capabilities_of(kit))  # no camera
    assert FIELD_CERTIFY.has_fn(capabilities_of(kit) | {"camera", "face"})


def test_the_field_port_goes_through_the_clients_request_function():
    class Client:
        def __init__(self):
            self.calls = []

        def _call(self, method, path, model, *, label, json=None, key=None):
            self.calls.append((method, path, json, key))
            return "answer"

    client = Client()
    port = field_port(client)
    assert isinstance(port, FieldCalls)
    assert port.open_by_id_number(CITIZEN, idempotency_key="k1") == "answer"
    assert port.prepare_trip("110105") == "answer"
    assert client.calls == [("POST", "/field/sessions",
                             {"method": "id-number", "citizen_id": CITIZEN}, "k1"),
                            ("POST", "/field/trips", {"village": "110105"}, None)]
