"""fleet.protocol.codec: encoding with the schema id, decoding that checks it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fleet.protocol import (
    Birth,
    Channel,
    Command,
    CommandResult,
    CommandStatus,
    Death,
    Health,
    InvalidPayload,
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    PresenceKind,
    SystemHealth,
    UnknownSchema,
    WrongChannel,
    decode,
    decode_for_channel,
    encode,
)

BIRTH = PresenceKind.BIRTH
DEATH = PresenceKind.DEATH


def _birth(seq: int = 7) -> Birth:
    return Birth(device_id="T-1", session_seq=seq, app_version="1.2.0", agent_version="0.1.0",
                 site="hall-1", hostname="kiosk-1", health_interval_s=30)


def _health() -> Health:
    return Health(
        device_id="T-1", session_seq=7, seq=3, app_version="1.2.0",
        system=SystemHealth(cpu_percent=3.5, memory_percent=41, disk_percent=12, uptime_s=99),
        kiosk=KioskHealth(reachable=True, screen="attract", session_active=False,
                          app_version="1.2.0"),
        peripherals={"card_reader": PeripheralHealth(state=PeripheralState.OK)},
    )



# -- codec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        _birth(),
        Death(device_id="T-1", session_seq=7, reason="shutdown"),
        _health(),
        Command(device_id="T-1", id="c1", name="ping",
                expires_at=datetime(2030, 1, 1, tzinfo=UTC)),
        CommandResult(device_id="T-1", id="c1", status=CommandStatus.OK, output={"pong": True}),
    ],
)
def test_every_payload_round_trips_with_its_schema(message: object) -> None:
    data = encode(message)
    body = json.loads(data)
    assert body["schema"] == str(type(message).SCHEMA)
    assert body["ts"].endswith("Z")
    assert decode(data) == message


def test_unknown_fields_are_ignored_and_ts_is_normalised_to_utc() -> None:
    body = json.loads(encode(_birth()))
    body["ts"] = "2026-05-01T08:00:00+08:00"
    body["firmware"] = {"from": "a newer agent"}
    decoded = decode(json.dumps(body))
    assert isinstance(decoded, Birth)
    assert decoded.ts == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schema", "error"),
    [("hrss.birth/2", UnknownSchema), ("hrss.reboot/1", UnknownSchema),
     ("hrss.birth", InvalidPayload), ("hrss.birth/one", InvalidPayload), (None, InvalidPayload)],
)
def test_unknown_schema_majors_and_names_are_rejected(schema: str | None, error: type) -> None:
    body = json.loads(encode(_birth()))
    body["schema"] = schema
    with pytest.raises(error):
        decode(json.dumps(body))


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[1, 2]", b"\xff\xfe", json.dumps({"schema": "hrss.birth/1"}).encode()],
)
def test_malformed_payloads_raise_invalid_payload(data: bytes) -> None:
    with pytest.raises(InvalidPayload):
        decode(data)


def test_naive_timestamps_are_rejected() -> None:
    body = json.loads(encode(_birth()))
    body["ts"] = "2026-05-01T08:00:00"
    with pytest.raises(InvalidPayload, match="ts"):
        decode(json.dumps(body))


def test_errors_never_quote_payload_values() -> None:
    body = json.loads(encode(_birth()))
    body["session_seq"] = "id 110101199003074514"
    with pytest.raises(InvalidPayload) as info:
        decode(json.dumps(body))
    assert "110101199003074514" not in str(info.value)


def test_channel_fixes_the_schema() -> None:
    health = _health()
    assert decode_for_channel(Channel.HEALTH, encode(health)) == health
    with pytest.raises(WrongChannel):
        decode_for_channel(Channel.DEATH, encode(_birth()))


def test_the_schema_first_fast_path_validates_the_same() -> None:
    """On a channel, our own encoding (schema first) skips the envelope pass: the model must
    still refuse what the slow path refuses, and bytes in another key order take the slow one."""
    data = encode(_health())
    assert data.startswith(b'{"schema":"hrss.health/1",')
    bad = data.replace(b'"seq":3', b'"seq":-3')
    with pytest.raises(InvalidPayload, match="seq"):
        decode_for_channel(Channel.HEALTH, bad)
    with pytest.raises(InvalidPayload):
        decode_for_channel(Channel.HEALTH, data[:-1])  # truncated JSON
    body = json.loads(data)
    reordered = json.dumps({**{k: v for k, v in body.items() if k != "schema"},
                            "schema": "hrss.birth/1"}).encode()
    with pytest.raises(WrongChannel):
        decode_for_channel(Channel.HEALTH, reordered)


def test_command_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cmd = Command(device_id="T-1", id="c1", name="ping", expires_at=now)
    assert not cmd.expired(now)
    assert cmd.expired(now + timedelta(milliseconds=1))


