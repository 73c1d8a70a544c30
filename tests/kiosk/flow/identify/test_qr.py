"""The e-SSC QR method: a scan becomes a `qr` credential; each bad token is explained."""

from __future__ import annotations

import pytest

from drivers.base import Health, HealthChanged, HealthState
from drivers.qr.interface import CodeScanned, ScanRejected, ScanRejection
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.flow import Action, ScreenName
from kiosk.flow.identify.base import Availability, Failed, Identified
from kiosk.flow.identify.qr import QrMethod, QrMsg, token_of
from kiosk.flow.messages import Msg
from tests.kiosk.device_fakes import available
from tests.kiosk.fakes import ScriptedEdge
from tests.kiosk.flow.test_core import Kiosk

QR = QrMethod()
TOKEN = "eSSC_tok-3f9a0c1b2d4e5f60718293a4b5c6d7e8"


def scan(payload: bytes | str = TOKEN) -> CodeScanned:
    data = payload.encode() if isinstance(payload, str) else payload
    return CodeScanned(scanner="qr0", payload=data)


def test_a_scan_becomes_a_qr_credential_with_the_token_only() -> None:
    intent = QR.interpret(scan())
    assert isinstance(intent, Identified)
    assert intent.credential.method == "qr" and dict(intent.credential.fields) == {"token": TOKEN}
    assert intent.credential.body() == {"method": "qr", "qr": {"token": TOKEN}}
    assert TOKEN not in repr(intent) and QR.holds_presence is False


@pytest.mark.parametrize("payload", [
    "https://pay.example/qr?x=1",  # a web link (':', '/', '?')
    "a" * 513,  # longer than the contract's 512
    "令牌",  # not ASCII
    b"\xff\xfe\x00",  # not text at all
])
def test_what_cannot_be_a_token_is_not_sent_to_the_edge(payload: bytes | str) -> None:
    data = payload.encode() if isinstance(payload, str) else payload
    assert token_of(data) is None
    if len(data) <= 1024:
        assert QR.interpret(scan(payload)) == Failed(QrMsg.NOT_ECARD, outlives_token=True)


def test_rejected_reads_and_health_become_intents() -> None:
    assert QR.interpret(ScanRejected("qr0", ScanRejection.GARBLED, 12)) == Failed(
        QrMsg.UNREADABLE, outlives_token=True)
    assert QR.interpret(ScanRejected("qr0", ScanRejection.TOO_LARGE, 4000)) == Failed(
        QrMsg.NOT_ECARD, outlives_token=True)
    gone = Health(HealthState.MISSING, "scanner-missing", "unplugged")
    assert QR.interpret(HealthChanged(kind="qr_scanner", health=gone)) == Availability(False)
    assert QR.interpret(available("qr_scanner")) == Availability(True)
    assert QR.interpret(HealthChanged(kind="card_reader", health=gone)) is None


@pytest.mark.parametrize(("code", "status", "message"), [
    (codes.QR_TOKEN_INVALID, 422, QrMsg.TOKEN_INVALID),
    (codes.QR_TOKEN_EXPIRED, 410, QrMsg.TOKEN_EXPIRED),
    (codes.QR_TOKEN_USED, 409, QrMsg.TOKEN_USED),
    (codes.QR_TOKEN_OTHER_TERMINAL, 403, QrMsg.TOKEN_OTHER_TERMINAL),
])
def test_each_bad_token_is_explained_in_its_own_words(code: str, status: int,
                                                      message: str) -> None:
    problem = EdgeProblem(code, status)
    assert QR.message_for_problem(problem) == message
    assert not problem.credential_refused  # a citizen's old code never stops the terminal
    kiosk = Kiosk(ScriptedEdge(open_script=[problem]))
    kiosk.flow.handle(available("qr_scanner"))
    kiosk.flow.handle(scan())
    assert kiosk.screen is ScreenName.IDENTIFYING
    kiosk.tasks.run_all()
    notice = kiosk.view.notice
    assert kiosk.screen is ScreenName.MESSAGE and notice is not None
    assert notice.key == message and notice.actions == (Action.OK,)
    # Nobody pulls a card to end it: it leaves by itself (or on OK) for the next citizen.
    kiosk.clock.advance(20)
    assert kiosk.screen is ScreenName.ATTRACT


def test_the_devices_own_401_token_expired_is_still_out_of_service() -> None:
    problem = EdgeProblem(codes.TOKEN_EXPIRED, 401)
    assert problem.credential_refused and QR.message_for_problem(problem) is None
    kiosk = Kiosk(ScriptedEdge(open_script=[problem]))
    kiosk.flow.handle(scan())
    kiosk.tasks.run_all()
    assert kiosk.view.notice is not None and kiosk.view.notice.key == Msg.DEVICE_NOT_AUTHORISED


def test_a_scan_opens_a_session_and_end_returns_to_attract() -> None:
    kiosk = Kiosk()
    kiosk.flow.handle(scan())
    assert kiosk.view.identifying_by == "qr"  # no card to keep in: the screen says so
    kiosk.tasks.run_all()
    ((credential, key),) = kiosk.edge.open_calls
    assert credential.fields == {"token": TOKEN} and key
    assert kiosk.screen is ScreenName.HOME and kiosk.flow.session is not None
    assert kiosk.flow.session.method == "qr"
    kiosk.tap(Action.END)
    assert kiosk.screen is ScreenName.ATTRACT  # no card to take back
    kiosk.tasks.run_all()
    assert kiosk.edge.end_calls and not kiosk.view.session_active


def test_a_scan_while_a_card_holder_is_served_is_ignored() -> None:
    kiosk = Kiosk()
    kiosk.at_home()
    kiosk.flow.handle(scan())
    assert kiosk.screen is ScreenName.HOME and len(kiosk.edge.open_calls) == 1
    assert kiosk.flow.session is not None and kiosk.flow.session.method == "card"


def test_a_card_that_cannot_be_used_here_offers_the_scan() -> None:
    from drivers.card.interface import CardFailure

    kiosk = Kiosk()
    kiosk.flow.handle(available("qr_scanner"))
    kiosk.reader.insert_failing(CardFailure.NEEDS_PSAM)
    notice = kiosk.view.notice
    assert notice is not None and notice.key == "msg.card.needs_psam"
    assert notice.ways == ("qr",)  # the ID card reader has not said it is there
    kiosk.flow.handle(scan())  # the card is still in the slot, but nobody is served by it
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.HOME and kiosk.flow.session is not None
    assert kiosk.flow.session.method == "qr"
    kiosk.reader.remove()  # the unreadable card leaving does not end the QR session
    assert kiosk.screen is ScreenName.HOME


def test_the_attract_view_offers_qr_only_once_the_scanner_is_there() -> None:
    kiosk = Kiosk()
    assert not kiosk.view.offers("qr")
    kiosk.flow.handle(available("qr_scanner"))
    assert kiosk.view.offers("qr") and not kiosk.view.offers("idcard")


def test_a_stray_unreadable_scan_does_not_cover_a_session() -> None:
    kiosk = Kiosk()
    kiosk.flow.handle(scan())
    kiosk.tasks.run_all()
    kiosk.flow.handle(scan("https://pay.example/qr"))
    assert kiosk.screen is ScreenName.HOME and kiosk.view.notice is None


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_qr_and_id_card_message_has_words(language: str) -> None:
    from kiosk.flow.identify.idcard import IdCardMsg
    from kiosk.i18n import catalog

    keys = set(catalog(language))
    for message in (*QrMsg, *IdCardMsg):
        assert f"{message}.title" in keys and f"{message}.body" in keys, message
    for way in ("card", "qr", "idcard"):
        assert f"message.way.{way}" in keys
