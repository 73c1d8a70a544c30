"""APDU building, the status-word checker chain, and T=0 procedure handling in transmit."""

from __future__ import annotations

import pytest

from drivers.card import apdu
from drivers.card.ssc import SSSE_DF_NAME
from simulators.card.applet import SscCard


class Scripted:
    """A transport that answers from a script and records what it was sent."""

    def __init__(self, *responses: str) -> None:
        self.responses = [bytes.fromhex(r) for r in responses]
        self.sent: list[bytes] = []

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.responses.pop(0)


class AppletTransport:
    """The virtual card in-process: the smallest possible reader."""

    def __init__(self, card) -> None:
        self.card = card
        self.sent: list[bytes] = []

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.card.process(command)


# -- commands -------------------------------------------------------------------------------------
def test_select_by_name_is_case_4():
    command = apdu.select_by_name(SSSE_DF_NAME)
    assert command.hex().upper() == "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"


def test_read_record_by_tag_puts_the_sfi_in_p2():
    assert apdu.read_record_by_tag(0x01, 5) == bytes.fromhex("00B2012800")
    assert apdu.read_record_by_tag(0x4E, 6) == bytes.fromhex("00B24E3000")
    with pytest.raises(ValueError, match="short file identifier"):
        apdu.read_record_by_tag(1, 31)


def test_t0_tpdu_drops_le_of_case_4_only():
    case4 = apdu.select_by_name(b"\xa0\x00")
    assert apdu.as_t0_tpdu(case4) == case4[:-1]
    case2 = apdu.read_record_by_tag(1, 5)
    assert apdu.as_t0_tpdu(case2) == case2


def test_with_le_replaces_or_appends():
    assert apdu.with_le(bytes.fromhex("00B2012800"), 0x12) == bytes.fromhex("00B2012812")
    assert apdu.with_le(bytes.fromhex("00A4040002A000"), 0x20) == bytes.fromhex("00A4040002A00020")


def test_response_parse_and_repr_hides_data():
    response = apdu.Response.parse(bytes.fromhex("0102039000"))
    assert (response.data, response.sw, response.sw1, response.sw2) == (b"\1\2\3", 0x9000, 0x90, 0)
    assert response.ok
    assert "010203" not in repr(response)
    with pytest.raises(apdu.MalformedResponse):
        apdu.Response.parse(b"\x90")


# -- the checker chain ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sw", "error"),
    [
        (0x6A83, apdu.RecordNotFound),
        (0x6A82, apdu.FileNotFound),
        (0x6982, apdu.SecurityStatusError),
        (0x6985, apdu.SecurityStatusError),
        (0x6983, apdu.ReferenceBlocked),
        (0x6984, apdu.ReferenceBlocked),
        (0x6986, apdu.CommandNotAllowed),
        (0x6981, apdu.CommandNotAllowed),
        (0x63C2, apdu.WarningStatus),
        (0x6282, apdu.EndOfRecord),
        (0x6283, apdu.FileInvalidated),
        (0x6284, apdu.WarningStatus),
        (0x6A81, apdu.FunctionNotSupported),
        (0x6700, apdu.WrongLength),
        (0x6C10, apdu.WrongLength),
        (0x6A86, apdu.WrongParameters),
        (0x6D00, apdu.UnsupportedCommand),
        (0x6E00, apdu.UnsupportedCommand),
        (0x6F00, apdu.ApduError),
    ],
)
def test_status_words_map_to_typed_errors(sw, error):
    with pytest.raises(error) as excinfo:
        apdu.DEFAULT_CHAIN(apdu.Response(b"", sw))
    assert excinfo.value.sw == sw
    assert type(excinfo.value) is error


def test_9000_passes_and_ignored_errors_are_swallowed():
    apdu.DEFAULT_CHAIN(apdu.Response(b"", 0x9000))
    tolerant = apdu.DEFAULT_CHAIN.ignoring(apdu.RecordNotFound)
    tolerant(apdu.Response(b"", 0x6A83))
    with pytest.raises(apdu.SecurityStatusError):
        tolerant(apdu.Response(b"", 0x6982))


def test_a_chain_runs_checkers_in_order():
    seen = []

    def first(response):
        seen.append("first")

    def second(response):
        seen.append("second")
        raise apdu.ApduError(response.sw, "second")

    chain = apdu.ErrorCheckingChain([first, second, apdu.catch_all_checker])
    with pytest.raises(apdu.ApduError, match="second"):
        chain(apdu.Response(b"", 0x6F00))
    assert seen == ["first", "second"]


# -- transmit: the T=0 procedure ------------------------------------------------------------------
def test_61xx_is_answered_with_get_response():
    transport = Scripted("6105", "01020304059000")
    response = apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=True)
    assert response.data == bytes.fromhex("0102030405")
    assert transport.sent == [bytes.fromhex("00A4040002A000"), bytes.fromhex("00C0000005")]


def test_6cxx_is_resent_with_the_right_le():
    transport = Scripted("6C12", "AA" * 0x12 + "9000")
    response = apdu.transmit(transport, apdu.read_record_by_tag(1, 5), t0=True)
    assert len(response.data) == 0x12
    assert transport.sent[1] == bytes.fromhex("00B2012812")


def test_chained_61xx_rounds_concatenate():
    transport = Scripted("6102", "01026102", "03049000")
    response = apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=True)
    assert response.data == bytes.fromhex("01020304")


def test_6cxx_after_get_response_resends_the_get_response():
    transport = Scripted("6110", "6C05", "01020304059000")
    response = apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=True)
    assert response.data == bytes.fromhex("0102030405")
    assert transport.sent[2] == bytes.fromhex("00C0000005")


def test_a_card_that_keeps_asking_does_not_loop_forever():
    transport = Scripted(*["6101"] * 100)
    with pytest.raises(apdu.WrongLength, match="another round"):
        apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=True)
    assert len(transport.sent) == apdu.MAX_PROCEDURE_ROUNDS + 1


def test_a_card_that_finishes_in_the_last_allowed_round_is_read():
    rounds = apdu.MAX_PROCEDURE_ROUNDS
    transport = Scripted("6101", *["AA6101"] * (rounds - 1), "AA9000")
    response = apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=True)
    assert response.data == b"\xaa" * rounds
    assert len(transport.sent) == rounds + 1


def test_a_repeated_6cxx_is_not_resent_twice():
    transport = Scripted("6C10", "6C10")
    with pytest.raises(apdu.WrongLength):
        apdu.transmit(transport, apdu.read_record_by_tag(1, 5), t0=True)
    assert len(transport.sent) == 2


def test_check_none_returns_the_raw_status_and_on_exchange_sees_every_round():
    rounds = []
    transport = Scripted("6A83")
    response = apdu.transmit(
        transport, apdu.read_record_by_tag(0x4E, 6), t0=False, check=None,
        on_exchange=lambda c, r: rounds.append((c, r.sw)),
    )
    assert response.sw == 0x6A83
    assert rounds == [(bytes.fromhex("00B24E3000"), 0x6A83)]


def test_t1_keeps_the_le_of_a_case_4_command():
    transport = Scripted("6F00A5009000")
    apdu.transmit(transport, apdu.select_by_name(b"\xa0\x00"), t0=False)
    assert transport.sent == [bytes.fromhex("00A4040002A00000")]


# -- against the virtual card, in process ---------------------------------------------------------
@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_select_and_read_against_the_applet(population, protocol):
    card = SscCard.from_citizen(population.citizen(1), protocol=protocol)
    transport = AppletTransport(card)
    t0 = protocol == "T=0"

    fci = apdu.transmit(transport, apdu.select_by_name(SSSE_DF_NAME), t0=t0)
    record = apdu.transmit(transport, apdu.read_record_by_tag(0x08, 6), t0=t0)

    assert fci.data[0] == 0x6F and SSSE_DF_NAME in fci.data
    assert record.data[:2] == bytes([0x08, 18])
    assert record.data[2:].decode() == population.citizen(1).citizen_id
    # T=0: SELECT -> 61xx -> GET RESPONSE; READ RECORD Le=00 -> 6Cxx -> resend. T=1: direct.
    assert len(transport.sent) == (4 if t0 else 2)


def test_the_applets_6cxx_on_get_response_is_handled(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=0")
    transport = AppletTransport(card)
    select = apdu.as_t0_tpdu(apdu.select_by_name(SSSE_DF_NAME))
    first = apdu.Response.parse(transport.transmit(select))
    assert first.sw1 == 0x61
    # A GET RESPONSE with a too-large Le gets 6Cxx; transmit resends it with the right one.
    response = apdu.transmit(transport, apdu.get_response(0xFF), t0=True)
    assert len(response.data) == first.sw2
