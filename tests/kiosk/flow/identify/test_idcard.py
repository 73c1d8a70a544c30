"""The resident ID card method: the driver's events (drivers/idcard) become intents; three
fields go to the edge; it is offered where the social security card cannot be used."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.card.interface import CardFailure
from drivers.idcard.interface import IdCardData, IdCardFailure, IdCardRead, IdCardReadFailed
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.flow import Action, ScreenName, Tap
from kiosk.flow.identify import METHODS
from kiosk.flow.identify.base import Availability, Failed, Identified
from kiosk.flow.identify.idcard import IDCARD_FIELDS_SENT, IdCardMethod, IdCardMsg
from kiosk.flow.journeys.steps import Keypad
from tests.kiosk.device_fakes import available
from tests.kiosk.fakes import ScriptedEdge
from tests.kiosk.flow.test_core import Kiosk

IDCARD = IdCardMethod()
CITIZEN_ID = "11010519491231002X"


def id_card(**overrides: object) -> IdCardData:
    values: dict[str, object] = {
        "name": "张三", "gender": "1", "ethnicity": "01", "birth_date": dt.date(1949, 12, 31),
        "address": "北京市西城区某某街1号", "citizen_id": CITIZEN_ID,
        "issuing_authority": "北京市公安局西城分局", "valid_from": dt.date(2016, 1, 1),
        "valid_until": None, "photo": b"WLT" * 10,
    }
    values.update(overrides)
    return IdCardData(**values)  # type: ignore[arg-type]


def read(**overrides: object) -> IdCardRead:
    return IdCardRead(reader="/dev/ttyUSB0", data=id_card(**overrides))


def test_a_read_sends_exactly_the_three_fields_the_edge_checks() -> None:
    intent = IDCARD.interpret(read())
    assert isinstance(intent, Identified)
    assert dict(intent.credential.fields) == {"citizen_id": CITIZEN_ID, "name": "张三",
                                              "valid_until": "长期"}
    assert tuple(intent.credential.fields) == IDCARD_FIELDS_SENT
    # The same as the driver's own form of the contract's body; no address, no photo.
    assert dict(intent.credential.fields) == id_card().credential_fields()
    dated = IDCARD.interpret(read(valid_until=dt.date(2036, 1, 1)))
    assert isinstance(dated, Identified) and dated.credential.fields["valid_until"] == "2036-01-01"
    assert "张三" not in repr(dated) and "1101" not in repr(dated)


def test_invalid_or_expired_cards_are_explained_without_asking_the_edge() -> None:
    assert IDCARD.interpret(read(valid_until=dt.date(2020, 1, 1))) == Failed(
        IdCardMsg.EXPIRED, outlives_token=True)
    assert IDCARD.interpret(read(citizen_id="110105194912310021")) == Failed(
        IdCardMsg.INVALID, outlives_token=True)  # wrong check character


@pytest.mark.parametrize(("failure", "message"), [
    (IdCardFailure.BAD_FRAME, IdCardMsg.UNREADABLE),
    (IdCardFailure.REMOVED, IdCardMsg.UNREADABLE),
    (IdCardFailure.INVALID_DATA, IdCardMsg.INVALID),
    (IdCardFailure.EXPIRED, IdCardMsg.EXPIRED),
    (IdCardFailure.UNSUPPORTED_CARD, IdCardMsg.UNSUPPORTED),
])
def test_read_failures_become_messages(failure: IdCardFailure, message: str) -> None:
    assert IDCARD.interpret(IdCardReadFailed(reader="r", failure=failure)) == Failed(
        message, outlives_token=True)


def test_health_and_edge_problems() -> None:
    assert IDCARD.interpret(available("idcard_reader")) == Availability(True)
    assert IDCARD.message_for_problem(EdgeProblem(codes.IDCARD_MISMATCH, 403)) == \
        IdCardMsg.MISMATCH
    assert IDCARD.message_for_problem(EdgeProblem(codes.IDCARD_EXPIRED, 403)) == \
        IdCardMsg.EXPIRED
    assert IDCARD.message_for_problem(EdgeProblem(codes.CITIZEN_NOT_FOUND, 404)) is None
    assert "idcard" in [m.key for m in METHODS]


def test_an_id_card_opens_a_session_and_a_mismatch_says_so() -> None:
    kiosk = Kiosk()
    kiosk.flow.handle(read())
    kiosk.tasks.run_all()
    ((credential, _key),) = kiosk.edge.open_calls
    assert credential.method == "idcard" and kiosk.screen is ScreenName.HOME
    assert kiosk.flow.session is not None and kiosk.flow.session.method == "idcard"

    refused = Kiosk(ScriptedEdge(open_script=[EdgeProblem(codes.IDCARD_MISMATCH, 403)]))
    refused.flow.handle(read())
    refused.tasks.run_all()
    assert refused.view.notice is not None and refused.view.notice.key == IdCardMsg.MISMATCH


def test_gen3_without_psam_offers_the_qr_code_and_the_id_card() -> None:
    kiosk = Kiosk()
    kiosk.flow.handle(available("qr_scanner"))
    kiosk.flow.handle(available("idcard_reader"))
    kiosk.reader.insert_failing(CardFailure.NEEDS_PSAM)
    notice = kiosk.view.notice
    assert notice is not None and notice.ways == ("qr", "idcard")
    kiosk.flow.handle(read())
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.HOME
    assert kiosk.flow.session is not None and kiosk.flow.session.method == "idcard"


def test_the_loss_report_takes_the_id_number_from_the_id_card() -> None:
    kiosk = Kiosk()
    kiosk.flow.handle(available("idcard_reader"))
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    assert kiosk.screen is ScreenName.KEYPAD
    kiosk.flow.handle(read())  # laid on the reader while the ID number is asked
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Keypad)
    assert content.data.label == "field.pin"  # the number is in: on to the service PIN
    assert not kiosk.edge.open_calls  # no session: the loss report needs none
    for char in "135790":
        kiosk.flow.handle(Tap(Action.KEY, value=char))
    kiosk.tap(Action.NEXT)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    ((citizen_id, pin, _key),) = kiosk.edge.card_loss_calls
    assert (citizen_id, pin) == (CITIZEN_ID, "135790")
