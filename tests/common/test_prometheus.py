from __future__ import annotations

import pytest

from common.prometheus import (
    CONTENT_TYPE,
    Metric,
    Sample,
    escape_help,
    escape_label_value,
    format_value,
    render,
)


def test_a_plain_metric_has_help_type_and_one_line() -> None:
    text = render([Metric.single("x_total", "counter", "Things (counted).", 3),
                   Metric.single("y", "gauge", "A level.", 0.25)])
    assert text == ("# HELP x_total Things (counted).\n# TYPE x_total counter\nx_total 3\n"
                    "# HELP y A level.\n# TYPE y gauge\ny 0.250\n")
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_labelled_samples_keep_their_order() -> None:
    metric = Metric.labelled("r_total", "counter", "By reason.", "reason", {"b": 1, "a": 2})
    assert render([metric]).splitlines()[2:] == ['r_total{reason="b"} 1', 'r_total{reason="a"} 2']
    two = Metric("m", "gauge", "Two labels.", (Sample(1, {"site": "s", "state": "x"}),))
    assert render([two]).splitlines()[2] == 'm{site="s",state="x"} 1'


def test_label_values_escape_backslash_quote_and_line_feed() -> None:
    assert escape_label_value('hall "A"\\east\nwing') == 'hall \\"A\\"\\\\east\\nwing'
    metric = Metric.labelled("d", "gauge", "Devices.", "site", {'a"b\\c\nd': 1})
    assert render([metric]).splitlines()[2] == 'd{site="a\\"b\\\\c\\nd"} 1'
    # The rest of a value is untouched (UTF-8 is allowed as is).
    assert escape_label_value("Zürich {1}, 2") == "Zürich {1}, 2"


def test_help_escapes_backslash_and_line_feed_but_not_quotes() -> None:
    assert escape_help('a\\b\nc "d"') == 'a\\\\b\\nc "d"'
    assert render([Metric.single("h", "gauge", "two\nlines", 1)]).splitlines()[0] == \
        "# HELP h two\\nlines"


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (7, "7"), (-2, "-2"), (3.0, "3"), (True, "1"), (10**15, "1000000000000000"),
    (0.5, "0.500"), (90.12345, "90.123"), (-0.25, "-0.250"), (-0.0, "0"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
])
def test_numbers(value: float, text: str) -> None:
    assert format_value(value) == text


def test_nan_and_infinities_render_in_the_formats_spelling() -> None:
    text = render([Metric.single("p", "gauge", "Latency.", float("nan")),
                   Metric.single("q", "gauge", "Bound.", float("inf"))])
    assert "p NaN\n" in text and "q +Inf\n" in text


def test_nothing_renders_as_nothing() -> None:
    assert render([]) == ""
    assert render([Metric("e", "gauge", "No samples yet.", ())]) == \
        "# HELP e No samples yet.\n# TYPE e gauge\n"


@pytest.mark.parametrize("name", ["", "9lives", "has-dash", "sp ace", "é"])
def test_bad_metric_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="metric name"):
        Metric.single(name, "gauge", "x", 1)


@pytest.mark.parametrize("label", ["", "__reserved", "a-b", "1a"])
def test_bad_label_names_are_refused(label: str) -> None:
    with pytest.raises(ValueError, match="label name"):
        Metric.labelled("ok_name", "gauge", "x", label, {"v": 1})
