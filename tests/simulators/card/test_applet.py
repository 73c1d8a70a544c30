"""The virtual card's APDU behaviour, in process (no pcscd)."""

from __future__ import annotations

import datetime as dt

import pytest
from smartcard.ATR import ATR

from simulators.card.applet import (
    SSSE_DF_NAME,
    CardProfile,
    Command,
    ForeignCard,
    SscCard,
    bcd,
    make_atr,
    split_gbk,
    split_name,
)

SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE_DF_NAME)]) + SSSE_DF_NAME


def _sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def _selected(card: SscCard) -> SscCard:
    card.process(SELECT_SSSE + (b"\x00" if card.protocol == "T=1" else b""))
    return card


def _profile(**changes) -> CardProfile:
    fields = {
        "card_id_code": "110105D156000005" + "0123456789ABCDEF", "card_type": "3",
        "generation": 2, "init_org_code": "AB" * 12, "issue_date": dt.date(2015, 3, 1),
        "expiry_date": dt.date(2025, 3, 1), "card_number": "A12345678",
        "citizen_id": "11010519491231002X", "name": "张三", "gender": "2", "ethnicity": "01",
        "birthplace": "110105", "birth_date": dt.date(1949, 12, 31),
    }
    return CardProfile(**{**fields, **changes})


# -- ATR ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_the_atr_offers_exactly_the_requested_protocol(protocol):
    # pyscard's ATR parser is an independent reading of ISO 7816-3.
    atr = ATR(list(make_atr(protocol, b"HRSS SSC 2")))
    assert atr.getSupportedProtocols() == {protocol: True}
    assert atr.getHistoricalBytes() == list(b"HRSS SSC 2")
    if protocol == "T=1":
        assert atr.checksumOK


def test_make_atr_limits():
    with pytest.raises(ValueError, match="historical"):
        make_atr("T=0", b"x" * 16)
    with pytest.raises(ValueError, match="protocol"):
        make_atr("T=2", b"")  # type: ignore[arg-type]


# -- parsing --------------------------------------------------------------------------------------
def test_command_cases():
    assert Command.parse(bytes.fromhex("00B20128")).le is None
    case2 = Command.parse(bytes.fromhex("00B2012800"))
    assert (case2.le, case2.expected) == (0, 256)
    case3 = Command.parse(bytes.fromhex("00A4040002A000"))
    assert (case3.data, case3.le) == (b"\xa0\x00", None)
    case4 = Command.parse(bytes.fromhex("00A4040002A00010"))
    assert (case4.data, case4.le) == (b"\xa0\x00", 0x10)
    assert Command.parse(bytes.fromhex("00A4040005A000")) is None
    assert Command.parse(b"\x00\xa4") is None


# -- SELECT ---------------------------------------------------------------------------------------
def test_t0_select_answers_61xx_and_get_response_gives_the_fci(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=0")
    first = card.process(SELECT_SSSE)
    assert first[0] == 0x61
    fci = card.process(bytes([0x00, 0xC0, 0x00, 0x00, first[1]]))
    assert _sw(fci) == "9000"
    assert fci[0] == 0x6F and SSSE_DF_NAME in fci
    # Nothing left to fetch.
    assert _sw(card.process(bytes.fromhex("00C0000010"))) == "6985"


def test_t0_get_response_with_a_wrong_le(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=0")
    length = card.process(SELECT_SSSE)[1]
    assert card.process(bytes.fromhex("00C00000FF")) == bytes([0x6C, length])
    part = card.process(bytes([0x00, 0xC0, 0x00, 0x00, 4]))
    assert part[-2] == 0x61 and part[-1] == length - 4


def test_t1_select_answers_directly(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    fci = card.process(SELECT_SSSE + b"\x00")
    assert _sw(fci) == "9000" and fci[0] == 0x6F
    assert _sw(card.process(bytes.fromhex("00C0000010"))) == "6D00"


def test_select_of_an_unknown_application_is_6a82(population):
    card = SscCard.from_citizen(population.citizen(1))
    assert _sw(card.process(bytes.fromhex("00A4040005A000000003"))) == "6A82"
    assert _sw(ForeignCard().process(SELECT_SSSE + b"\x00")) == "6A82"


def test_reading_before_select_is_refused(population):
    card = SscCard.from_citizen(population.citizen(1))
    assert _sw(card.process(bytes.fromhex("00B2012800"))) == "6986"


# -- READ RECORD ----------------------------------------------------------------------------------
def test_t0_read_record_wants_the_exact_le():
    card = _selected(SscCard(_profile(), protocol="T=0"))
    assert card.process(bytes.fromhex("00B2083000")) == bytes([0x6C, 20])
    record = card.process(bytes.fromhex("00B2083014"))
    assert record == bytes([0x08, 18]) + b"11010519491231002X" + bytes.fromhex("9000")


def test_t1_read_record_answers_le_00_directly():
    card = _selected(SscCard(_profile(), protocol="T=1"))
    record = card.process(bytes.fromhex("00B2083000"))
    assert record[:2] == bytes([0x08, 18]) and _sw(record) == "9000"


def test_record_contents_and_encodings():
    card = _selected(SscCard(_profile(), protocol="T=1"))

    def value(tag: int, sfi: int) -> bytes:
        response = card.process(bytes([0x00, 0xB2, tag, sfi << 3, 0x00]))
        assert _sw(response) == "9000"
        assert response[0] == tag and response[1] == len(response) - 4
        return response[2:-2]

    assert value(0x01, 5) == bytes.fromhex("110105D1560000050123456789ABCDEF")
    assert value(0x03, 5) == b"2.00"
    assert value(0x05, 5) == bytes.fromhex("20150301")
    assert value(0x07, 5) == b"A12345678"
    assert value(0x09, 6) == "张三".encode("gbk") + b"\x00" * 26
    assert value(0x4E, 6) == b"\x00" * 20
    assert value(0x0A, 6) == b"2"
    assert value(0x0B, 6) == bytes.fromhex("01")
    assert value(0x0C, 6) == bytes.fromhex("110105")
    assert value(0x0D, 6) == bytes.fromhex("19491231")


def test_read_record_by_number_and_unknown_records():
    card = _selected(SscCard(_profile(), protocol="T=1"))
    by_number = card.process(bytes.fromhex("00B2012C00"))
    assert by_number[0] == 0x01
    assert _sw(card.process(bytes.fromhex("00B2092C00"))) == "6A83"
    assert _sw(card.process(bytes.fromhex("00B2203000"))) == "6A83"
    assert _sw(card.process(bytes.fromhex("00B2013800"))) == "6A82"  # SFI 7 is not served


def test_generation_1_has_no_name_extension():
    card = _selected(SscCard(_profile(generation=1), protocol="T=1"))
    assert _sw(card.process(bytes.fromhex("00B24E3000"))) == "6A83"
    assert card.process(bytes.fromhex("00B2032800"))[2:6] == b"1.00"


def test_generation_3_protects_ef06_and_part_of_ef05():
    card = _selected(SscCard(_profile(generation=3), protocol="T=1"))
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6982"
    assert _sw(card.process(bytes.fromhex("00B2042800"))) == "6982"
    assert _sw(card.process(bytes.fromhex("00B2012800"))) == "9000"


def test_long_names_spill_into_tag_4e():
    name = "阿卜杜热合曼·阿不都热西提·阿不都热西提"
    head, tail = split_gbk(name, 30, 20)
    assert len(head) <= 30 and (head + tail).decode("gbk") == name
    card = _selected(SscCard(_profile(name=name), protocol="T=1"))
    name_record = card.process(bytes.fromhex("00B2093000"))[2:-2]
    extension = card.process(bytes.fromhex("00B24E3000"))[2:-2]
    assert name_record.rstrip(b"\x00") + extension.rstrip(b"\x00") == name.encode("gbk")


def test_gbk_split_drops_what_does_not_fit():
    head, tail = split_gbk("阿" * 30, 30, 0)
    assert head == "阿".encode("gbk") * 15 and tail == b""


def test_bcd_padding():
    assert bcd("4401", 3) == bytes.fromhex("4401FF")
    with pytest.raises(ValueError):
        bcd("1234567", 3)


# -- VERIFY, power and others ---------------------------------------------------------------------
def test_verify_burns_a_try_per_wrong_pin_and_locks():
    card = SscCard(_profile())
    wrong = bytes.fromhex("0020000003000000")
    assert _sw(card.process(wrong)) == "63C2"
    assert _sw(card.process(wrong)) == "63C1"
    assert _sw(card.process(wrong)) == "6983"
    assert _sw(card.process(bytes.fromhex("0020000006") + b"123456")) == "6983"


def test_reset_forgets_the_selection_and_unknown_commands_are_refused():
    card = _selected(SscCard(_profile(), protocol="T=1"))
    card.reset()
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6986"
    assert _sw(card.process(bytes.fromhex("00CA000000"))) == "6D00"
    assert _sw(card.process(bytes.fromhex("80B2083000"))) == "6E00"
    assert _sw(card.process(bytes.fromhex("00A4040005A0"))) == "6700"


def test_the_card_never_shows_its_holder_in_repr(population):
    citizen = population.citizen(1)
    card = SscCard.from_citizen(citizen)
    assert citizen.citizen_id not in repr(card)
    assert citizen.name not in repr(card)


def test_from_citizen_takes_the_current_card_and_overrides(population):
    citizen = population.citizen(1)
    card = SscCard.from_citizen(citizen, generation=3, protocol="T=1")
    assert card.generation == 3 and card.profile.card_number == citizen.current_card.card_number
    assert SscCard.from_citizen(citizen).generation == citizen.current_card.generation
    with pytest.raises(ValueError, match="protocol"):
        SscCard(_profile(), protocol="T=2")  # type: ignore[arg-type]


# -- misbehaviour and names for testers ----------------------------------------------------------
@pytest.mark.parametrize("sw", ["6283", "6A81"])
@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_a_locked_card_refuses_select_of_its_application(sw, protocol):
    card = SscCard(_profile(), protocol=protocol, locked=sw)
    assert _sw(card.process(SELECT_SSSE + (b"\x00" if protocol == "T=1" else b""))) == sw
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6986"  # nothing is selected


def test_locked_takes_only_the_two_blocked_status_words():
    with pytest.raises(ValueError, match="locked"):
        SscCard(_profile(), locked="6982")


@pytest.mark.parametrize("name", ["王䶮", "李𠀀明"])
def test_names_are_written_in_gb18030(name):
    card = _selected(SscCard(_profile(name=name), protocol="T=1"))
    record = card.process(bytes.fromhex("00B2093000"))[2:-2]
    assert record.rstrip(b"\x00") == name.encode("gb18030")
    assert not card.profile.name_truncated


def test_split_name_never_cuts_a_4_byte_character():
    head, tail = split_name("阿" * 14 + "𠀀", 30, 0)  # 28 bytes, then 4 that do not fit
    assert head == "阿".encode("gb18030") * 14 and tail == b""


@pytest.mark.parametrize(("generation", "truncated"), [(1, True), (2, False)])
def test_the_profile_knows_when_the_chip_cut_the_name(generation, truncated):
    name = "阿卜杜热合曼·阿不都热西提·阿不都热西提"  # 40 bytes: fits 30 + 20, not 30
    assert _profile(name=name, generation=generation).name_truncated is truncated


def test_a_raw_name_goes_on_the_chip_as_given():
    profile = _profile(raw_name=bytes.fromhex("D5C58120"))
    card = _selected(SscCard(profile, protocol="T=1"))
    assert card.process(bytes.fromhex("00B2093000"))[2:6] == bytes.fromhex("D5C58120")
    assert card.process(bytes.fromhex("00B24E3000"))[2:-2] == b"\x00" * 20
    with pytest.raises(ValueError, match="30 bytes"):
        _profile(raw_name=b"\x41" * 31)
