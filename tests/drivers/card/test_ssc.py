"""Social security card layout: TLV, BCD and GBK decoding, cross-checks, iReadCardBas, and the
read sequence against the virtual card in-process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from common import citizen_id as cid
from drivers.card import ssc
from drivers.card.interface import CardData, CardFailure, CardReadError
from simulators.card.applet import CardProfile, ForeignCard, SscCard

STANDARD_EXAMPLE_ID = "11010519491231002X"  # GB 11643's own example: female, 1949-12-31


class AppletTransport:
    def __init__(self, card, override=None) -> None:
        self.card = card
        self.override = override or {}

    def transmit(self, command: bytes) -> bytes:
        key = command[:4].hex().upper()
        if key in self.override:
            return bytes.fromhex(self.override[key])
        return self.card.process(command)


def _read(card, **override):
    transport = AppletTransport(card, override)
    return ssc.read_card(transport, atr=card.atr.hex().upper(), protocol=card.protocol)


def _example_card(**changes) -> CardData:
    fields = {
        "atr": "3B6A000048525353205353432032",
        "protocol": "T=0",
        "card_id_code": "110105D156000005" + "0123456789ABCDEF",
        "card_type": "3",
        "spec_version": "2.00",
        "init_org_code": "00" * 12,
        "issue_date": dt.date(2015, 3, 1),
        "expiry_date": dt.date(2025, 3, 1),
        "card_number": "A12345678",
        "citizen_id": STANDARD_EXAMPLE_ID,
        "name": "张三",
        "gender": "2",
        "ethnicity": "01",
        "birthplace": "110105",
        "birth_date": dt.date(1949, 12, 31),
    }
    return CardData(**{**fields, **changes})


# -- TLV ------------------------------------------------------------------------------------------
def test_parse_tlv_returns_the_value_and_ignores_trailing_bytes():
    assert ssc.parse_tlv(bytes.fromhex("0A0131")) == b"1"
    assert ssc.parse_tlv(bytes.fromhex("0A0131FFFF"), 0x0A) == b"1"


@pytest.mark.parametrize(
    ("record", "match"),
    [("0A", "shorter"), ("0A0531", "past the end"), ("0B0131", "tag 0B")],
)
def test_parse_tlv_rejects_malformed_records(record, match):
    with pytest.raises(ssc.MalformedRecord, match=match):
        ssc.parse_tlv(bytes.fromhex(record), 0x0A)


# -- field encodings ------------------------------------------------------------------------------
def test_bcd_digits_drop_f_padding():
    assert ssc.bcd_digits(bytes.fromhex("110105")) == "110105"
    assert ssc.bcd_digits(bytes.fromhex("4401FF")) == "4401"
    assert ssc.bcd_digits(bytes.fromhex("05")) == "05"
    with pytest.raises(ValueError, match="BCD"):
        ssc.bcd_digits(bytes.fromhex("1A"))


def test_bcd_dates():
    assert ssc.bcd_date(bytes.fromhex("19491231")) == dt.date(1949, 12, 31)
    assert ssc.bcd_date(bytes.fromhex("00000000")) is None
    assert ssc.bcd_date(bytes.fromhex("FFFFFFFF")) is None
    with pytest.raises(ValueError):
        ssc.bcd_date(bytes.fromhex("20151399"))
    with pytest.raises(ValueError):
        ssc.bcd_date(bytes.fromhex("2015FFFF"))


def test_an_and_gbk_text_drop_zero_padding():
    assert ssc.an_text(b"A12345678") == "A12345678"
    assert ssc.an_text(b"1.00\x00\x00") == "1.00"
    assert ssc.gbk_text("张三".encode("gbk") + b"\x00" * 26) == "张三"


def test_a_name_and_its_extension_are_joined_before_decoding():
    name = "阿卜杜热合曼·阿不都热西提·阿不都热西提"
    raw = name.encode("gbk")
    assert len(raw) > 30
    # Split mid-character on purpose: joining bytes first still decodes.
    head, tail = raw[:31], raw[31:]
    assert ssc.decode_name(head[:30], head[30:] + tail) == name
    assert ssc.decode_name(raw[:30], raw[30:].ljust(20, b"\x00")) == name
    assert ssc.decode_name("张三".encode("gbk").ljust(30, b"\x00"), b"\x00" * 20) == "张三"
    assert ssc.decode_name("张三".encode("gbk").ljust(30, b"\x00"), None) == "张三"


@pytest.mark.parametrize("name", ["王䶮", "李𠀀", "𪚥𪚥"])
def test_names_are_gb18030_including_4_byte_ext_b(name):
    raw = name.encode("gb18030")
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")  # what the driver lost before
    assert ssc.decode_name(raw.ljust(30, b"\x00"), b"\x00" * 20) == name
    assert ssc.decode_name(raw[:3], raw[3:]) == name  # a split inside a 4-byte sequence


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xd5\xc5\x81\x20", "not GB18030"),  # a lead byte with an illegal trail
        (b"\xd5\xc5\x80", "not GB18030"),
        (b"\xd5\xc5\xaa\xa1", "U+E000"),  # GBK user-defined area: private use
        (b"\xd5\xc5\x01", "U+0001"),  # a control character
    ],
)
def test_a_name_that_is_no_text_is_unreadable_not_a_warning(raw, why):
    with pytest.raises(ssc.UndecodableName, match=re.escape(why)):
        ssc.decode_name(raw.ljust(30, b"\x00"), None)
    values = _values(_profile())
    values[ssc.TAG_NAME] = raw.ljust(30, b"\x00")
    with pytest.raises(CardReadError) as excinfo:
        ssc.decode_card("3B00", "T=0", values)
    assert excinfo.value.failure is CardFailure.UNREADABLE
    assert "name" in excinfo.value.detail


def test_a_full_last_name_field_flags_the_name_as_maybe_truncated():
    full_09 = ("阿" * 15).encode("gb18030")  # 30 bytes
    assert ssc.name_may_be_truncated(full_09, None)  # generation 1: no extension
    assert not ssc.name_may_be_truncated(full_09, b"\x00" * 20)  # 4E was there, left empty
    assert ssc.name_may_be_truncated(full_09, ("阿" * 10).encode("gb18030"))  # 4E full too
    # A cut before a 4-byte character leaves up to 3 bytes free: still flagged.
    assert ssc.name_may_be_truncated(("阿" * 13 + "A").encode("gb18030").ljust(30, b"\x00"), None)
    assert not ssc.name_may_be_truncated("张三".encode("gb18030").ljust(30, b"\x00"), None)
    assert not ssc.name_may_be_truncated("张三".encode("gb18030"), None)  # unpadded short TLV


def test_hex_code():
    assert ssc.hex_code(bytes.fromhex("d156000005")) == "D156000005"


# -- cross-checks ---------------------------------------------------------------------------------
def test_a_consistent_card_gives_no_warnings():
    assert ssc.cross_check(STANDARD_EXAMPLE_ID, dt.date(1949, 12, 31), "2") == []


def test_birth_date_and_gender_mismatches_are_warnings():
    warnings = ssc.cross_check(STANDARD_EXAMPLE_ID, dt.date(1950, 1, 1), "1")
    assert len(warnings) == 2
    assert any("birth date" in w for w in warnings)
    assert any("gender" in w for w in warnings)
    assert not any(STANDARD_EXAMPLE_ID[6:14] in w for w in warnings)


def test_an_invalid_id_is_a_warning_not_an_error():
    bad = STANDARD_EXAMPLE_ID[:-1] + "1"
    warnings = ssc.cross_check(bad, None, None)
    assert len(warnings) == 1 and "not a valid citizen ID" in warnings[0]
    assert bad not in warnings[0]


# -- decoding a whole card ------------------------------------------------------------------------
def _values(profile: CardProfile) -> dict[int, bytes]:
    records = profile.records()
    return {
        tag: ssc.parse_tlv(record, tag)
        for file in records.values() for tag, record in file.items()
    }


def _profile(**changes) -> CardProfile:
    base = CardProfile(
        card_id_code="110105D156000005" + "0123456789ABCDEF", card_type="3", generation=2,
        init_org_code="AB" * 12, issue_date=dt.date(2015, 3, 1),
        expiry_date=dt.date(2025, 3, 1), card_number="A12345678",
        citizen_id=STANDARD_EXAMPLE_ID, name="张三", gender="2", ethnicity="01",
        birthplace="110105", birth_date=dt.date(1949, 12, 31),
    )
    return dataclasses.replace(base, **changes)


def test_decode_card_from_tlv_values():
    data = ssc.decode_card("3B00", "T=1", _values(_profile()))
    assert data.citizen_id == STANDARD_EXAMPLE_ID
    assert data.name == "张三"
    assert data.card_id_code == "110105D1560000050123456789ABCDEF"
    assert data.issuing_region == "110105"
    assert data.init_org_code == "AB" * 12
    assert (data.issue_date, data.expiry_date) == (dt.date(2015, 3, 1), dt.date(2025, 3, 1))
    assert (data.gender, data.ethnicity, data.birthplace) == ("2", "01", "110105")
    assert data.generation == 2
    assert data.warnings == ()


def test_decode_card_is_tolerant_of_bad_optional_fields():
    values = _values(_profile())
    values[ssc.TAG_ISSUE_DATE] = bytes.fromhex("20151399")
    values[ssc.TAG_BIRTHPLACE] = bytes.fromhex("ABCDEF")
    del values[ssc.TAG_ETHNICITY]
    data = ssc.decode_card("3B00", "T=0", values)
    assert data.issue_date is None and data.birthplace is None and data.ethnicity is None
    assert any("issue date" in w for w in data.warnings)
    assert any("birthplace" in w for w in data.warnings)


@pytest.mark.parametrize(
    ("spec_version", "generation"),
    [("1.00", 1), ("3.00", 3), ("", 0), ("9.00", 0), ("inf", 0), ("nan", 0), ("x", 0)],
)
def test_generation_comes_from_the_spec_version_and_never_raises(spec_version, generation):
    data = _example_card(spec_version=spec_version)
    assert data.generation == generation
    assert f"generation={generation}" in repr(data)


def test_card_data_repr_and_str_mask_the_holder():
    data = _example_card()
    for text in (repr(data), str(data)):
        assert STANDARD_EXAMPLE_ID not in text and "张三" not in text
        assert "110105" in text and "张*" in text


def test_a_card_without_a_name_is_unreadable():
    values = _values(_profile())
    values[ssc.TAG_NAME] = b"\x00" * 30
    with pytest.raises(CardReadError) as excinfo:
        ssc.decode_card("3B00", "T=0", values)
    assert excinfo.value.failure is CardFailure.UNREADABLE


def test_corrected_ids_read_with_warnings():
    # The chip kept the birth date the registry later corrected in the ID.
    data = ssc.decode_card("3B00", "T=0", _values(_profile(birth_date=dt.date(1949, 12, 30))))
    assert data.citizen_id == STANDARD_EXAMPLE_ID
    assert data.warnings == ("birth date in EF06 differs from the one in the citizen ID",)


# -- the read sequence against the applet ---------------------------------------------------------
@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
@pytest.mark.parametrize("generation", [1, 2])
def test_read_card_against_the_applet(population, protocol, generation):
    citizen = population.citizen(1)
    card = SscCard.from_citizen(citizen, generation=generation, protocol=protocol)
    data = _read(card)
    assert (data.citizen_id, data.name, data.birth_date) == (
        citizen.citizen_id, citizen.name, citizen.birth_date
    )
    assert data.generation == generation
    assert data.protocol == protocol
    assert not any(c[1] == 0x20 for c in card.commands)


def test_read_card_generation_3_needs_psam(population):
    card = SscCard.from_citizen(population.citizen(1), generation=3)
    with pytest.raises(CardReadError) as excinfo:
        _read(card)
    assert excinfo.value.failure is CardFailure.NEEDS_PSAM


def test_read_card_on_a_foreign_card_is_not_ssc():
    with pytest.raises(CardReadError) as excinfo:
        ssc.read_card(AppletTransport(ForeignCard()), atr="3B00", protocol="T=1")
    assert excinfo.value.failure is CardFailure.NOT_SSC


@pytest.mark.parametrize("generation", [1, 2])
def test_the_simulators_truncation_is_flagged_and_short_names_are_not(population, generation):
    long_name = "阿卜杜热合曼·阿不都热西提·阿不都热西提·买买提·艾力"  # 54 bytes: cut on both
    citizen = population.citizen(1)
    cut = _read(SscCard.from_citizen(citizen, generation=generation, name=long_name))
    assert cut.name_truncated and long_name.startswith(cut.name) and cut.name != long_name
    whole = _read(SscCard.from_citizen(citizen, generation=generation))
    assert not whole.name_truncated and whole.name == citizen.name


def test_gb18030_names_read_from_the_applet(population):
    for name in ("王䶮", "李𠀀"):
        card = SscCard.from_citizen(population.citizen(1), name=name)
        assert _read(card).name == name


def test_every_long_name_in_the_population_survives_a_read(population):
    long_names = [
        population.citizen(i) for i in range(population.size)
        if len(population.citizen(i).name.encode("gbk")) > 30
    ]
    assert long_names, "the default population has long Uyghur names"
    for citizen in long_names:
        assert _read(SscCard.from_citizen(citizen, generation=2)).name == citizen.name
        cut = _read(SscCard.from_citizen(citizen, generation=1))
        assert citizen.name.startswith(cut.name) and len(cut.name.encode("gb18030")) <= 30
        assert cut.name_truncated


def test_a_refused_id_record_is_unreadable(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    with pytest.raises(CardReadError) as excinfo:
        _read(card, **{"00B20830": "6A86"})
    assert excinfo.value.failure is CardFailure.UNREADABLE


@pytest.mark.parametrize("sw", ["6283", "6A81"])
@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_a_blocked_application_is_a_locked_card(population, sw, protocol):
    card = SscCard.from_citizen(population.citizen(1), protocol=protocol, locked=sw)
    with pytest.raises(CardReadError) as excinfo:
        _read(card)
    assert excinfo.value.failure is CardFailure.LOCKED
    assert sw in excinfo.value.detail
    assert [c[1] for c in card.commands] == [0xA4]  # nothing read after the refusal


class _SelectAnswers(AppletTransport):
    """The card selects the application but ends its answer with another status word."""

    def __init__(self, card, sw: str) -> None:
        super().__init__(card)
        self.sw = bytes.fromhex(sw)

    def transmit(self, command: bytes) -> bytes:
        response = super().transmit(command)
        return response[:-2] + self.sw if command[1] == 0xA4 else response


def test_a_select_warning_other_than_6283_still_selects(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    data = ssc.read_card(_SelectAnswers(card, "6284"), atr="3B00", protocol="T=1")
    assert data.citizen_id == population.citizen(1).citizen_id


@pytest.mark.parametrize(("key", "sw"), [("00B20830", "6283"), ("00B20930", "6983")])
def test_blocked_holder_data_is_a_locked_card(population, key, sw):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    with pytest.raises(CardReadError) as excinfo:
        _read(card, **{key: sw})
    assert excinfo.value.failure is CardFailure.LOCKED


def test_command_not_allowed_on_holder_data_is_not_a_psam_matter(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    data = _read(card, **{"00B20A30": "6986"})  # gender: "no current EF", an optional field
    assert data.gender is None
    with pytest.raises(CardReadError) as excinfo:
        _read(card, **{"00B20830": "6986"})
    assert excinfo.value.failure is CardFailure.UNREADABLE


def test_a_record_shorter_than_le_with_6282_is_used(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    assert _read(card, **{"00B20A30": "0A01326282"}).gender == "2"


def test_a_protected_ef05_field_is_skipped(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    data = _read(card, **{"00B20428": "6982"})
    assert data.init_org_code == ""
    assert data.citizen_id == population.citizen(1).citizen_id


def test_a_malformed_optional_record_is_skipped(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    data = _read(card, **{"00B20B30": "0B05019000"})
    assert data.ethnicity is None


# -- iReadCardBas ---------------------------------------------------------------------------------
def test_ireadcardbas_has_the_eleven_fields_in_order_each_closed_by_a_bar():
    line = ssc.ireadcardbas(_example_card(), terminal_number="T0001", terminal_device_number="D9")
    # The reset field is the ATR's historical bytes ("HRSS SSC 2"), not the whole ATR.
    assert line == (
        "110105|11010519491231002X|A12345678|110105D1560000050123456789ABCDEF|张三|"
        "48525353205353432032|2.00|20150301|20250301|T0001|D9|"
    )
    assert line.endswith("|") and len(line.split("|")) == 12 and line.split("|")[-1] == ""


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_ireadcardbas_takes_the_historical_bytes_of_either_atr(population, protocol):
    card = SscCard.from_citizen(population.citizen(1), protocol=protocol)
    data = _read(card)
    reset = ssc.ireadcardbas(data).split("|")[5]
    assert bytes.fromhex(reset) == f"HRSS SSC {card.generation}".encode("ascii")


def test_ireadcardbas_leaves_unknown_dates_empty_and_refuses_the_separator():
    line = ssc.ireadcardbas(_example_card(issue_date=None, expiry_date=None))
    assert line.split("|")[7:] == ["", "", "", "", ""]
    with pytest.raises(ValueError, match="separator"):
        ssc.ireadcardbas(_example_card(card_number="A|2345678"))


def test_the_example_id_is_valid():
    assert cid.is_valid(STANDARD_EXAMPLE_ID)
