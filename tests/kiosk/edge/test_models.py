"""Wire models: bounded, ranged, and silent about citizen data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from kiosk.edge.models import Benefits, Citizen, Credential, PensionPayment

PAYMENT = {"period": "2026-10", "amount": "3456.78", "status": "paid"}


def test_a_valid_payment_keeps_its_exact_amount() -> None:
    assert PensionPayment.model_validate(PAYMENT).amount == Decimal("3456.78")


@pytest.mark.parametrize(("field", "value"), [
    ("period", "2026-00"), ("period", "1850-01"), ("period", "2026-1"),
    ("amount", "NaN"), ("amount", "Infinity"), ("amount", "-2000000"), ("amount", "1.001"),
])
def test_payments_out_of_range_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        PensionPayment.model_validate({**PAYMENT, field: value})


@pytest.mark.parametrize("citizen", [
    {"display_name": ""}, {"display_name": "张" * 33}, {"display_name": "张*", "age": 151},
    {"display_name": "张*", "age": -1},
])
def test_citizens_out_of_range_are_refused(citizen: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Citizen.model_validate(citizen)


def test_benefits_have_a_bounded_number_of_rows() -> None:
    Benefits.model_validate({"pension_payments": [PAYMENT] * 60})
    with pytest.raises(ValidationError):
        Benefits.model_validate({"pension_payments": [PAYMENT] * 61})


def test_a_credential_body_and_repr() -> None:
    credential = Credential("qr", {"token": "secret-token"})
    assert credential.body() == {"method": "qr", "qr": {"token": "secret-token"}}
    assert "secret-token" not in repr(credential) and "token" in repr(credential)


def test_a_time_without_its_zone_is_refused() -> None:
    with pytest.raises(ValidationError):
        Benefits.model_validate({"as_of": "2026-11-22T10:00:00"})
    assert Benefits.model_validate({"as_of": "2026-11-22T10:00:00Z"}).as_of is not None


def test_a_digits_field_without_a_length_takes_up_to_32_and_a_phone_11() -> None:
    from kiosk.edge.models import FormField

    digits = FormField.model_validate({"name": "certificate_number", "kind": "digits",
                                       "max_length": None})
    assert digits.length == (1, 32) and digits.accepts("1" * 32) and not digits.accepts("1" * 33)
    phone = FormField.model_validate({"name": "phone", "kind": "phone"})
    assert phone.accepts("13800000000") and not phone.accepts("23800000000")
    assert not phone.accepts("１３８００００００００")  # full-width digits are not digits here
    with pytest.raises(ValidationError):
        FormField.model_validate({"name": "x", "kind": "digits", "max_length": 33})
