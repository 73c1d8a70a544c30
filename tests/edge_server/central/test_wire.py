"""The contract's answers as bounded data: lengths, shapes, list sizes, ranges."""

import json

import pytest

from edge_server.central import BadAnswer, PaymentsAnswer, PersonAnswer
from edge_server.central.validation import decode
from tests.edge_server.central.answers import payments_answer, person_answer


def person_with(**fields) -> bytes:
    body = person_answer()
    body["person"].update(fields)
    return json.dumps(body).encode()


def payment_with(**fields) -> bytes:
    body = payments_answer()
    body["items"][0].update(fields)
    return json.dumps(body).encode()


@pytest.mark.parametrize("name", ["䶮", "买买提·吐尔逊", "阿卜杜热合曼·努尔买买提", "A" * 64])
def test_real_names_pass(name):
    assert decode(PersonAnswer, person_with(name=name)).person.name == name


@pytest.mark.parametrize("name", [
    "", "A" * 65, "张\x00三", "张\n三", "\u202e三张", " 张三", "张三 ", "张\x85三",
])
def test_names_that_are_not_text_are_refused(name):
    with pytest.raises(BadAnswer, match=r"person\.name"):
        decode(PersonAnswer, person_with(name=name))


@pytest.mark.parametrize("field,value", [
    ("citizen_id", "11010519491231002Y"),
    ("citizen_id", "110105194912310021"),  # wrong check character
    ("citizen_id", "１１０１０５１９４９１２３１００２Ｘ"),
    ("gender", "M"),
    ("birth_date", "1700-01-01"),
    ("birth_date", "2999-01-01"),
    ("ethnicity", "abc"),
    ("region", "1101"),
    ("cards", [person_answer()["person"]["cards"][0]] * 17),
    ("participation", [person_answer()["person"]["participation"][0]] * 33),
])
def test_person_fields_out_of_shape_or_range_are_refused(field, value):
    with pytest.raises(BadAnswer, match=f"person.{field}"):
        decode(PersonAnswer, person_with(**{field: value}))


@pytest.mark.parametrize("card", [
    {"card_number": "A1234567<script>"},
    {"card_number": "A" * 33},
    {"status": "stolen"},
    {"generation": 0},
    {"generation": 2**63},
    {"issued_on": "0001-01-01"},
    {"card_id_code": "x" * 65},
])
def test_card_fields_out_of_shape_or_range_are_refused(card):
    body = person_answer()
    body["person"]["cards"][0].update(card)
    with pytest.raises(BadAnswer, match=r"person\.cards"):
        decode(PersonAnswer, json.dumps(body).encode())


@pytest.mark.parametrize("field,value", [
    ("amount", "-1.00"),
    ("amount", "1000000.01"),
    ("amount", "1e308"),
    ("amount", "3456.789"),
    ("amount", "NaN"),
    ("amount", "Infinity"),
    ("period", "2026-13"),
    ("period", "9999-01"),
    ("period", "26-11"),
    ("status", "stolen"),
    ("bank", "x" * 65),
    ("account", "6222-0202"),
    ("paid_on", "2999-01-01"),
])
def test_payment_fields_out_of_shape_or_range_are_refused(field, value):
    with pytest.raises(BadAnswer, match=f"items.{field}"):
        decode(PaymentsAnswer, payment_with(**{field: value}))


def test_too_many_payments_are_refused():
    body = payments_answer()
    body["items"] = body["items"][:1] * 601
    with pytest.raises(BadAnswer, match="items: too_long"):
        decode(PaymentsAnswer, json.dumps(body).encode())


def test_a_decimal_amount_keeps_its_cents():
    assert str(decode(PaymentsAnswer, payment_with(amount="0.10")).items[0].amount) == "0.10"


def test_unknown_fields_are_ignored():
    body = person_answer()
    body["person"]["hobby"] = "chess"
    body["extra"] = {"anything": [1, 2]}
    assert decode(PersonAnswer, json.dumps(body).encode()).person.gender == "1"
