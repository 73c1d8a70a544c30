import base64
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


def test_token_bound_to_a_terminal_is_refused_elsewhere():
    token = ecard_tokens.issue(SECRET, 3, NOW + dt.timedelta(seconds=60), device_id="kiosk-01")
    assert ecard_tokens.verify(SECRET, token, NOW, device_id="kiosk-01").bound
    for other in ("kiosk-02", None):
        with pytest.raises(ecard_tokens.TokenOtherTerminal):
            ecard_tokens.verify(SECRET, token, NOW, device_id=other)
    unbound = ecard_tokens.issue(SECRET, 3, NOW + dt.timedelta(seconds=60))
    assert not ecard_tokens.verify(SECRET, unbound, NOW, device_id="kiosk-02").bound


def test_the_terminal_is_not_readable_from_the_token():
    token = ecard_tokens.issue(SECRET, 3, NOW + dt.timedelta(seconds=60), device_id="kiosk-01")
    assert b"kiosk" not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_ledger_consumes_once_and_forgets_expired_entries():
    ledger = ecard_tokens.TokenLedger(max_entries=2)
    first = ecard_tokens.verify(SECRET, ecard_tokens.issue(SECRET, 1, NOW + dt.timedelta(
        seconds=10)), NOW)
    ledger.consume(first, NOW)
    with pytest.raises(ecard_tokens.TokenUsed):
        ledger.consume(first, NOW)
    second = ecard_tokens.verify(SECRET, ecard_tokens.issue(SECRET, 2, NOW + dt.timedelta(
        seconds=60)), NOW)
    ledger.consume(second, NOW)
    third = ecard_tokens.verify(SECRET, ecard_tokens.issue(SECRET, 3, NOW + dt.timedelta(
        seconds=60)), NOW)
    with pytest.raises(ecard_tokens.TokenUsed):  # full of live tokens: refused, not forgotten
        ledger.consume(third, NOW)
    later = NOW + dt.timedelta(seconds=20)  # the first has expired: its entry may go
    ledger.consume(third, later)
    assert len(ledger) == 2
