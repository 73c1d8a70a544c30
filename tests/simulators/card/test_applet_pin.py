"""The virtual card's PIN, file-ID selection and card authentication, and the virtual PSAM,
in process (no pcscd): APDUs in, status words out, against the documented forms."""

from __future__ import annotations

import datetime as dt

import pytest

from simulators.card import keys
from simulators.card.applet import SSSE_DF_NAME, CardProfile, SscCard, pin_bcd, pin_digits
from simulators.card.psam import PSAM_AID, PsamCard

SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE_DF_NAME)]) + SSSE_DF_NAME + b"\x00"
CARD_ID = "110105D156000005" + "0123456789ABCDEF"


def _sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def _card(generation: int = 2, **options) -> SscCard:
    profile = CardProfile(
        card_id_code=CARD_ID, card_type="3", generation=generation, init_org_code="AB" * 12,
        issue_date=dt.date(2015, 3, 1), expiry_date=dt.date(2025, 3, 1),
        card_number="A12345678", citizen_id="11010519491231002X", name="张三", gender="2",
        ethnicity="01", birthplace="110105", birth_date=dt.date(1949, 12, 31),
    )
    card = SscCard(profile, protocol="T=1", **options)
    assert _sw(card.process(SELECT_SSSE)) == "9000"
    return card


def _verify(card: SscCard, digits: str | None) -> str:
    if digits is None:
        return _sw(card.process(bytes.fromhex("00200000")))
    block = pin_bcd(digits)
    return _sw(card.process(bytes([0x00, 0x20, 0x00, 0x00, len(block)]) + block))


# -- PIN ------------------------------------------------------------------------------------------
def test_the_tries_left_query_uses_no_try():
    card = _card(pin_tries=2)
    assert [_verify(card, None) for _ in range(5)] == ["63C2"] * 5
    assert card.pin_tries == 2


def test_verify_takes_bcd_and_counts_down_to_6983():
    card = _card()
    assert [_verify(card, "111111") for _ in range(3)] == ["63C2", "63C1", "6983"]
    assert _verify(card, "123456") == "6983" and _verify(card, None) == "6983"


def test_a_right_pin_resets_the_counter_and_the_query_then_says_verified():
    card = _card(pin_tries=1)
    assert _verify(card, "123456") == "9000"
    assert card.pin_tries == 3 and _verify(card, None) == "9000"


def test_odd_length_pins_are_f_padded_and_bad_blocks_refused():
    card = _card(pin="12345")
    assert pin_bcd("12345") == bytes.fromhex("12345F")
    assert _verify(card, "12345") == "9000"
    assert _sw(card.process(bytes.fromhex("0020000003AB3456"))) == "6A80"
    assert pin_digits(bytes.fromhex("12")) is None  # fewer than 4 digits


def test_change_pin_in_the_standards_form_and_as_iso_change_reference_data():
    card = _card()
    old, new = pin_bcd("123456"), pin_bcd("654321")
    data = old + b"\xff" + new
    assert _sw(card.process(bytes([0x80, 0x5E, 0x01, 0x00, len(data)]) + data)) == "9000"
    assert card.pin == "654321"
    iso = pin_bcd("654321") + pin_bcd("111111")
    assert _sw(card.process(bytes([0x00, 0x24, 0x00, 0x00, len(iso)]) + iso)) == "9000"
    assert card.pin == "111111"
    wrong = pin_bcd("000000") + b"\xff" + pin_bcd("222222")
    assert _sw(card.process(bytes([0x80, 0x5E, 0x01, 0x00, len(wrong)]) + wrong)) == "63C2"


def _staff(card: SscCard, header: str, body: bytes = b"", mac: bytes | None = None) -> str:
    challenge = card.process(bytes.fromhex("0084000008"))[:-2]
    if mac is None:
        mac = keys.KeyCentre().authorise(
            "reload" if header == "805E0000" else "unblock", CARD_ID, challenge.hex(),
            "S0001", "246810",
        )
    data = body + mac
    return _sw(card.process(bytes.fromhex(header) + bytes([len(data)]) + data))


def test_reload_needs_the_issuers_mac_over_a_fresh_challenge():
    card = _card(pin_tries=0)
    assert _staff(card, "805E0000", pin_bcd("246810"), mac=b"\x00" * 4) == "6988"
    assert _staff(card, "805E0000", pin_bcd("246810")) == "9000"
    assert (card.pin, card.pin_tries) == ("246810", 3)
    # Without the GET CHALLENGE just before, nothing goes.
    assert _sw(card.process(bytes.fromhex("805E000007") + pin_bcd("111111") + b"\0" * 4)) == "6985"


def test_unblock_resets_the_counter_and_keeps_the_pin():
    card = _card(pin_tries=0)
    assert _staff(card, "84240000") == "9000"
    assert (card.pin, card.pin_tries) == ("123456", 3)


def test_set_pin_is_checked():
    card = _card()
    card.set_pin(pin="8888", tries=1)
    assert (card.pin, card.pin_tries) == ("8888", 1)
    with pytest.raises(ValueError):
        card.set_pin(tries=4)
    with pytest.raises(ValueError):
        card.set_pin(pin="12")


# -- SELECT by file ID ----------------------------------------------------------------------------
def test_select_by_file_id_makes_the_ef_current():
    card = _card()
    assert _sw(card.process(bytes.fromhex("00B2070000"))) == "6986"  # no current EF yet
    assert _sw(card.process(bytes.fromhex("00A4000002EF05"))) == "9000"
    record = card.process(bytes.fromhex("00B2070000"))  # SFI 0: the current EF
    assert record[:2] == b"\x07\x09" and record[2:11] == b"A12345678"
    assert _sw(card.process(bytes.fromhex("00A4000002EF09"))) == "6A82"


# -- card authentication and the PSAM -------------------------------------------------------------
def _authenticate(card: SscCard, psam: PsamCard) -> str:
    card_id = bytes.fromhex(CARD_ID)
    assert _sw(psam.process(bytes([0, 0xA4, 4, 0, len(PSAM_AID)]) + PSAM_AID + b"\x00")) == "9000"
    r1 = psam.process(bytes.fromhex("0084000008"))[:-2]
    c1 = card.process(bytes.fromhex("0088000008") + r1 + b"\x10")[:-2]
    step3 = _sw(psam.process(bytes.fromhex("0082000020") + card_id + c1))
    if step3 != "9000":
        return step3
    r2 = card.process(bytes.fromhex("0084000008"))[:-2]
    c2 = psam.process(bytes.fromhex("0088000018") + card_id + r2 + b"\x10")
    if _sw(c2) != "9000":
        return _sw(c2)
    return _sw(card.process(bytes.fromhex("0082000010") + c2[:-2]))


def test_a_generation_3_card_opens_ef06_after_authentication_with_the_psam():
    card = _card(generation=3)
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6982"
    assert _authenticate(card, PsamCard(protocol="T=1")) == "9000"
    assert card.process(bytes.fromhex("00B2083000"))[2:20] == b"11010519491231002X"
    card.reset()
    assert _sw(card.process(SELECT_SSSE)) == "9000"
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6982"  # until the next reset


def test_foreign_keys_fail_on_either_side():
    assert _authenticate(_card(generation=3), PsamCard(protocol="T=1", keys_label="x")) == "6300"
    foreign_card = _card(generation=3, keys_label="x")
    assert _authenticate(foreign_card, PsamCard(protocol="T=1")) == "6300"


def test_the_psam_answers_only_for_the_card_that_proved_itself():
    psam = PsamCard(protocol="T=1")
    assert _sw(psam.process(bytes([0, 0xA4, 4, 0, len(PSAM_AID)]) + PSAM_AID + b"\x00")) == "9000"
    data = bytes.fromhex(CARD_ID) + b"\x01" * 8
    assert _sw(psam.process(bytes.fromhex("0088000018") + data + b"\x10")) == "6982"


def test_a_wrong_terminal_cryptogram_keeps_ef06_closed():
    card = _card(generation=3)
    card.process(bytes.fromhex("0084000008"))
    assert _sw(card.process(bytes.fromhex("0082000010") + b"\x00" * 16)) == "6300"
    assert _sw(card.process(bytes.fromhex("0082000010") + b"\x00" * 16)) == "6985"  # no challenge
    assert _sw(card.process(bytes.fromhex("00B2083000"))) == "6982"


def test_t0_psam_answers_61xx_and_get_response():
    psam = PsamCard(protocol="T=0")
    assert _sw(psam.process(bytes([0, 0xA4, 4, 0, len(PSAM_AID)]) + PSAM_AID)) == "6112"
    assert _sw(psam.process(bytes.fromhex("00C0000012"))) == "9000"
    assert _sw(psam.process(bytes.fromhex("0084000000"))) == "6C08"


def test_card_keys_are_diversified_by_card_id():
    one = keys.card_key("EAK", bytes.fromhex(CARD_ID))
    other = keys.card_key("EAK", bytes.fromhex(CARD_ID[:-2] + "00"))
    assert one != other and len(one) == 16
    assert keys.card_key("EAK", bytes.fromhex(CARD_ID), "x") != one
    with pytest.raises(keys.ReloadRefused):
        keys.KeyCentre().authorise("reload", CARD_ID, "00" * 8, "S0001", "wrong")
    with pytest.raises(keys.ReloadRefused):
        keys.KeyCentre().authorise("format", CARD_ID, "00" * 8, "S0001", "246810")
