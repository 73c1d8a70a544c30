"""Historical bytes of an ATR, for the iReadCardBas reset field."""

from __future__ import annotations

import pytest

from drivers.card.atr import MalformedAtr, historical_bytes
from simulators.card.applet import make_atr


@pytest.mark.parametrize(
    ("atr", "historical"),
    [
        ("3B6A000048525353205353432032", "48525353205353432032"),  # TB1 TC1, K = 10
        ("3B00", ""),
        ("3B8180018080", "80"),  # TD1 -> TD2 (T=1, no more), K = 1, then TCK
        ("3BDA18FF8131FE454A434F503231563232313C", "4A434F50323156323231"),  # JCOP21V221
    ],
)
def test_historical_bytes_follow_the_interface_bytes(atr, historical):
    assert historical_bytes(bytes.fromhex(atr)).hex().upper() == historical


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_the_simulators_atrs(protocol):
    assert historical_bytes(make_atr(protocol, b"HRSS SSC 3")) == b"HRSS SSC 3"


@pytest.mark.parametrize("atr", ["3B", "3B6A0000485253", "3BF0", "3B80"])
def test_a_truncated_atr_is_malformed(atr):
    with pytest.raises(MalformedAtr):
        historical_bytes(bytes.fromhex(atr))
