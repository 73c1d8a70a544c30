"""The device token (edge-api.md, "Device credential"), checked against the contract's formula
written out here independently of common.device_token."""

import base64
import datetime as dt
import hashlib
import hmac

import pytest

from common.device_id import InvalidDeviceId
from common.device_token import (
    ExpiredToken,
    InvalidToken,
    device_token,
    legacy_device_token,
    read_token,
    verify_token,
)

SECRET = "hall-secret-for-tests"
NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=90)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def contract_v2(device_id: str, expires: int, secret: str = SECRET) -> str:
    text = f"hrss-kiosk device v2:{device_id}.{expires}".encode()
    return f"dev2.{device_id}.{expires}." + b64(hmac.new(secret.encode(), text, hashlib.sha256)
                                                 .digest())


def contract_v1(device_id: str, secret: str = SECRET) -> str:
    text = f"hrss-kiosk device v1:{device_id}".encode()
    return f"dev1.{device_id}." + b64(hmac.new(secret.encode(), text, hashlib.sha256).digest())


@pytest.mark.parametrize("device", ["kiosk-01", "A", "hall_3-terminal_12", "x" * 64])
def test_tokens_are_exactly_the_contract_formula(device):
    expires = int(LATER.timestamp())
    assert device_token(SECRET, device, LATER) == contract_v2(device, expires)
    assert legacy_device_token(SECRET, device) == contract_v1(device)
    credential = verify_token(contract_v2(device, expires), [SECRET], now=NOW)
    assert (credential.device_id, credential.version) == (device, "dev2")
    assert credential.expires_at == dt.datetime.fromtimestamp(expires, dt.UTC)


def test_an_expired_token_is_refused_as_expired_and_only_when_genuine():
    token = device_token(SECRET, "kiosk-01", LATER)
    assert verify_token(token, [SECRET], now=LATER - dt.timedelta(seconds=1))
    with pytest.raises(ExpiredToken) as caught:
        verify_token(token, [SECRET], now=LATER)
    assert caught.value.device_id == "kiosk-01"
    # A forged token past its expiry is forged, not expired: no oracle for the MAC.
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken) as caught:
        verify_token(forged, [SECRET], now=LATER)
    assert not isinstance(caught.value, ExpiredToken)


def test_the_expiry_cannot_be_extended():
    token = device_token(SECRET, "kiosk-01", LATER)
    version, device, expires, mac = token.split(".")
    longer = ".".join((version, device, str(int(expires) + 86400 * 365), mac))
    with pytest.raises(InvalidToken):
        verify_token(longer, [SECRET], now=NOW)


def test_legacy_tokens_only_when_allowed():
    token = contract_v1("kiosk-01")
    with pytest.raises(InvalidToken):
        verify_token(token, [SECRET], now=NOW)
    credential = verify_token(token, [SECRET], now=NOW, accept_legacy=True)
    assert (credential.device_id, credential.version, credential.expires_at) == (
        "kiosk-01", "dev1", None)


def test_any_secret_of_the_rotation_overlap_is_accepted():
    old, new = "old-secret", "new-secret"
    token = device_token(old, "kiosk-01", LATER)
    assert verify_token(token, [new, old], now=NOW).device_id == "kiosk-01"
    with pytest.raises(InvalidToken):
        verify_token(token, [new], now=NOW)
    with pytest.raises(InvalidToken):
        verify_token(token, [], now=NOW)


@pytest.mark.parametrize("token", [
    "",
    "dev2",
    "dev2.kiosk-01",
    "dev2.kiosk-01.123",
    "dev3.kiosk-01.1790000000.mac",
    "dev2.kiosk-01.-5.mac",
    "dev2.kiosk-01.0.mac",
    "dev2.kiosk-01.99999999999999999999.mac",
    "dev2.kiosk-01.999999999999.mac",  # past datetime's range: refused, not an OverflowError
    "dev2.kiosk-01.１７９０００００００.mac",  # full-width digits
    "dev2.kiosk-01.1790000000.mac.extra",
    "dev2.-lead.1790000000.mac",
    "dev2.kiosk 01.1790000000.mac",
    "dev2.kiosk-01.1790000000." + "A" * 300,
    "dev2.设备.1790000000.mac",
    "dev1.kiosk-01",
])
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(InvalidToken):
        verify_token(token, [SECRET], now=NOW, accept_legacy=True)


@pytest.mark.parametrize("device", ["", "-lead", "has.dot", "x" * 65, "空格", "a\n"])
def test_device_ids_outside_the_pattern_are_refused(device):
    with pytest.raises(InvalidDeviceId):
        device_token(SECRET, device, LATER)


def test_an_expiry_needs_a_time_zone_and_a_range():
    with pytest.raises(ValueError):
        device_token(SECRET, "kiosk-01", dt.datetime(2027, 1, 1))
    with pytest.raises(ValueError):
        device_token(SECRET, "kiosk-01", dt.datetime(1960, 1, 1, tzinfo=dt.UTC))


def test_read_token_says_what_a_token_says_of_itself_without_a_secret():
    token = device_token(SECRET, "kiosk-01", LATER)
    credential = read_token(token)
    assert (credential.device_id, credential.expires_at) == ("kiosk-01", LATER)
    assert read_token(legacy_device_token(SECRET, "kiosk-01")).expires_at is None
    # Unverified by design: a forged MAC reads the same; only verify_token decides trust.
    forged = token.rsplit(".", 1)[0] + ".AAAA"
    assert read_token(forged).device_id == "kiosk-01"
    with pytest.raises(InvalidToken):
        verify_token(forged, [SECRET], now=NOW)
    for bad in ["", "dev2.kiosk-01.x.y", "dev3.a.1.b", "dev2.k\u00e91.1.b"]:
        with pytest.raises(InvalidToken):
            read_token(bad)
