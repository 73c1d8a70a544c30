"""The face engine's interface: 128-d templates, masked, validated as data."""

from __future__ import annotations

import math

import pytest

from drivers.face.interface import (
    TEMPLATE_SIZE,
    FaceBox,
    FaceHealthCode,
    FaceMatch,
    FaceTemplate,
)


def test_face_templates_are_128_values_and_masked() -> None:
    template = FaceTemplate(tuple(i / 1000 for i in range(TEMPLATE_SIZE)))
    assert "0.127" not in repr(template)
    with pytest.raises(ValueError, match="128"):
        FaceTemplate((0.0,))
    assert FaceMatch(distance=0.4, tolerance=0.6).same_person
    assert not FaceMatch(distance=0.7, tolerance=0.6).same_person
    assert FaceBox(top=10, right=60, bottom=70, left=20).area == 40 * 60


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e6])
def test_a_template_from_outside_is_checked(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        FaceTemplate((bad,) + (0.0,) * (TEMPLATE_SIZE - 1))


def test_health_codes() -> None:
    assert FaceHealthCode.MODELS_MISSING == "models-missing"
