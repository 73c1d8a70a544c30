"""The text block: decoded, validated field by field, and never quoted in an error."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from common import citizen_id
from drivers.idcard.interface import IdCardData
from drivers.idcard.text import InvalidText, OtherCardType, decode_block
from simulators.idcard import protocol

ID = citizen_id.make("110105", dt.date(1949, 12, 31), 2)  # female (even sequence)
GOOD = {
    "name": "张秀英", "gender": "2", "ethnicity": "01", "birth": "19491231",
    "address": "北京市朝阳区建设路1号", "citizen_id": ID, "authority": "北京市公安局朝阳分局",
    "valid_from": "20100101", "valid_until": "长期",
}


def block(**changes: str) -> bytes:
    return protocol.text_block({**GOOD, **changes})


def test_a_good_block_decodes() -> None:
    data = decode_block(block(), b"\x01" * 1024)
    assert (data.name, data.gender, data.ethnicity, data.birth_date) == (
        "张秀英", "2", "01", dt.date(1949, 12, 31))
    assert (data.address, data.citizen_id, data.issuing_authority) == (
        "北京市朝阳区建设路1号", ID, "北京市公安局朝阳分局")
    assert (data.valid_from, data.valid_until, data.valid_until_text) == (
        dt.date(2010, 1, 1), None, "长期")
    assert (data.ethnicity_name, data.gender_name, data.warnings) == ("汉", "女", ())
    assert data.credential_fields() == {"citizen_id": ID, "name": "张秀英", "valid_until": "长期"}
    assert not data.is_expired(dt.date(2099, 1, 1)) and not data.name_truncated


def test_a_dated_card_is_valid_through_its_last_day() -> None:
    data = decode_block(block(valid_from="20160301", valid_until="20360301"))
    assert data.valid_until == dt.date(2036, 3, 1) and data.valid_until_text == "2036-03-01"
    assert not data.is_expired(dt.date(2036, 3, 1)) and data.is_expired(dt.date(2036, 3, 2))


def test_repr_masks_and_never_shows_the_photo() -> None:
    data = decode_block(block(), b"\xab" * 1024)
    text = repr(data) + str(data)
    assert ID not in text and "张秀英" not in text and "秀英" not in text
    assert "110105********0" in text and "<1024 bytes>" in text and "ab" not in text


def test_nul_padding_and_a_middle_dot_name_are_accepted() -> None:
    assert decode_block(block(name="阿依古丽·买买提")).name == "阿依古丽·买买提"
    nul = bytearray(block(name="王五"))
    nul[4:30] = b"\x00" * 26  # some readers pad with NULs
    assert decode_block(bytes(nul)).name == "王五"


def test_a_full_name_field_says_it_may_be_cut() -> None:
    data = decode_block(block(name="阿卜杜热合曼·买买提·艾力克木"))
    assert len(data.name) == 15 and data.name_truncated


def test_gender_differing_from_the_id_is_a_warning_not_a_failure() -> None:
    assert decode_block(block(gender="1")).warnings == (
        "gender differs from the ID number's sequence",)


@pytest.mark.parametrize(("changes", "says"), [
    ({"citizen_id": ID[:-1] + ("0" if ID[-1] != "0" else "1")}, "check character"),
    ({"citizen_id": ID[:17]}, "ID number"),  # seventeen characters
    ({"citizen_id": ID[:6] + "19491232" + ID[14:]}, "ID number"),
    ({"birth": "19500101"}, "differs from the one in the ID"),
    ({"birth": "1949123"}, "birth date: not YYYYMMDD"),
    ({"birth": "19491331"}, "birth date: not a date"),
    ({"gender": "3"}, "gender"),
    ({"ethnicity": "57"}, "ethnicity"),
    ({"ethnicity": "1"}, "ethnicity"),
    ({"name": ""}, "name: empty"),
    ({"name": "张 三"}, "name: holds a space"),
    ({"name": "张\u200b三"}, "control or unassigned"),
    ({"name": "张\x07三"}, "control or unassigned"),
    ({"address": "北京\ue000路"}, "control or unassigned"),  # private use
    ({"authority": ""}, "issuing authority: empty"),
    ({"valid_from": "20100230"}, "valid from: not a date"),
    ({"valid_until": "永久"}, "valid until: not YYYYMMDD"),
    ({"valid_from": "20200101", "valid_until": "20100101"}, "not after valid from"),
    ({"valid_from": "19400101", "valid_until": "19600101"}, "before the birth date"),
    ({"valid_until": "99991231"}, "outside"),
])
def test_invalid_fields_are_refused_without_quoting_them(changes: dict[str, str],
                                                         says: str) -> None:
    with pytest.raises(InvalidText) as refused:
        decode_block(block(**changes))
    message = str(refused.value)
    assert says in message
    assert ID[6:14] not in message and "张" not in message and "北京" not in message


def test_broken_ucs2_and_nuls_inside_a_field_are_refused() -> None:
    surrogate = bytearray(block())
    surrogate[0:2] = b"\x00\xd8"  # a lone high surrogate
    with pytest.raises(InvalidText, match="name: not UCS-2"):
        decode_block(bytes(surrogate))
    nul = bytearray(block())
    nul[2:4] = b"\x00\x00"
    with pytest.raises(InvalidText, match="NUL inside"):
        decode_block(bytes(nul))


@pytest.mark.parametrize("flag", ["I", "J", "Y"])
def test_other_cards_sharing_the_layout_are_told_apart(flag: str) -> None:
    with pytest.raises(OtherCardType) as other:
        decode_block(protocol.text_block({**GOOD, "type_flag": flag}))
    assert other.value.flag == flag and "not a resident ID card" in str(other.value)


@pytest.mark.parametrize(("text", "photo"), [(b"\x20\x00" * 127, b""), (block(), b"\0" * 1025)])
def test_wrong_sizes_are_refused(text: bytes, photo: bytes) -> None:
    with pytest.raises(InvalidText):
        decode_block(text, photo)


def test_the_data_type_bounds_its_photo() -> None:
    data = decode_block(block())
    with pytest.raises(ValueError, match="1024"):
        dataclasses.replace(data, photo=b"\0" * 1025)
    assert isinstance(data, IdCardData)
