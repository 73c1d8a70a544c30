import datetime as dt

import pytest

from common import citizen_id
from common.citizen_id import InvalidCitizenId


def test_the_standards_own_example_is_valid():
    parsed = citizen_id.parse("11010519491231002X")
    assert parsed.region == "110105"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "2"  # sequence 002 is even


def test_lower_case_x_and_spaces_are_normalised():
    assert citizen_id.parse(" 11010519491231002x ").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("110105194912310021", "check character"),
        ("11010519491331002X", "not a date"),
        ("1101051949123100", "seventeen digits"),
        ("11010519491231002Y", "seventeen digits"),
        ("", "seventeen digits"),
    ],
)
def test_invalid_ids_are_rejected_with_a_reason_that_holds_no_digits(text, reason):
    with pytest.raises(InvalidCitizenId) as err:
        citizen_id.parse(text)
    assert reason in str(err.value)
    assert not any(ch.isdigit() for ch in str(err.value))


def test_make_round_trips_and_every_check_character_is_reachable():
    seen = set()
    for seq in range(0, 40):
        value = citizen_id.make("320102", dt.date(1972, 3, 30), seq)
        assert citizen_id.is_valid(value)
        seen.add(value[-1])
    assert "X" in seen and len(seen) == 11


def test_repr_never_shows_the_whole_number():
    parsed = citizen_id.parse("11010519491231002X")
    assert "19491231" not in repr(parsed)
    assert "19491231" not in str(parsed)


@pytest.mark.parametrize(
    "text",
    [
        "11010519491231002\uff18",  # full-width 8: \d matched it, str.encode("ascii") did not
        "\u0661" + "1010519491231002X",  # Arabic-Indic one
        "1101051949123100２X",
    ],
)
def test_non_ascii_digits_are_not_digits(text):
    with pytest.raises(InvalidCitizenId):
        citizen_id.parse(text)
