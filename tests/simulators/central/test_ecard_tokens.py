import datetime as dt

import pytest

from simulators.central import ecard_tokens
from simulators.central.config import CentralSimConfig

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
SECRET = b"k" * 32


def test_round_trip_and_uniqueness():
    a = ecard_tokens.issue(SECRET, 12345, NOW + dt.timedelta(seconds=60))
    b = ecard_tokens.issue(SECRET, 12345, NOW + dt.timedelta(seconds=60))
    assert a != b, "a nonce makes every code different"
    claims = ecard_tokens.verify(SECRET, a, NOW)
    assert claims.index == 12345
    assert claims.expires_at == NOW + dt.timedelta(seconds=60)


def test_other_secret_is_invalid_and_expiry_is_exclusive():
    token = ecard_tokens.issue(SECRET, 1, NOW + dt.timedelta(seconds=1))
    with pytest.raises(ecard_tokens.TokenInvalid):
        ecard_tokens.verify(b"x" * 32, token, NOW)
    with pytest.raises(ecard_tokens.TokenExpired):
        ecard_tokens.verify(SECRET, token, NOW + dt.timedelta(seconds=1))


def test_every_flipped_character_is_detected():
    token = ecard_tokens.issue(SECRET, 7, NOW + dt.timedelta(seconds=60))
    for i in range(len(token)):
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        with pytest.raises(ecard_tokens.TokenInvalid):
            ecard_tokens.verify(SECRET, flipped, NOW)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:5] + "*" + t[5:],
    lambda t: " " + t,
    lambda t: t + "!",
    lambda t: t[:5] + "+" + t[6:],  # standard base64, not base64url
])
def test_foreign_characters_are_not_skipped(mangle):
    """The decoder would skip characters outside base64url: one token must have one spelling."""
    token = ecard_tokens.issue(SECRET, 7, NOW + dt.timedelta(seconds=60))
    with pytest.raises(ecard_tokens.TokenInvalid):
        ecard_tokens.verify(SECRET, mangle(token), NOW)


def test_token_secret_survives_restart_but_depends_on_key_and_seed():
    assert CentralSimConfig(api_key="a").token_secret == CentralSimConfig(api_key="a").token_secret
    assert CentralSimConfig(api_key="a").token_secret != CentralSimConfig(api_key="b").token_secret
    assert CentralSimConfig(seed=1).token_secret != CentralSimConfig(seed=2).token_secret
