"""Provisioning issues device tokens and the edge verifies them: two implementations of one
rule in edge-api.md (neither part may import the other). They must agree."""

from __future__ import annotations

import pytest

from edge_server.auth import InvalidToken, verify_token
from provisioning.device_credentials import InvalidDeviceId, device_token, new_hall_secret


@pytest.mark.parametrize("device_id", ["T-110105-0001", "a", "Z" * 64, "kiosk_7"])
def test_a_provisioned_token_is_accepted_by_the_edge(device_id):
    secret = new_hall_secret()
    assert verify_token(device_token(secret, device_id), secret, frozenset()) == device_id


def test_another_halls_token_or_a_revoked_device_is_refused():
    secret = new_hall_secret()
    token = device_token(secret, "T-1")
    with pytest.raises(InvalidToken):
        verify_token(token, new_hall_secret(), frozenset())
    with pytest.raises(InvalidToken):
        verify_token(token, secret, frozenset({"T-1"}))


@pytest.mark.parametrize("device_id", ["", "-leading", "has space", "x" * 65, "点"])
def test_provisioning_refuses_device_ids_the_edge_would_refuse(device_id):
    with pytest.raises(InvalidDeviceId):
        device_token("secret", device_id)
