"""fleet.protocol: topics, payload encoding and decoding, presence ordering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fleet.protocol import (
    ALL_DEVICES_FILTER,
    MANAGER_SUBSCRIPTION,
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
    PresenceKey,
    PresenceKind,
    SystemHealth,
    TopicError,
    UnknownSchema,
    WrongChannel,
    decode,
    decode_for_channel,
    device_filter,
    device_topic,
    encode,
    is_newer,
    next_session_seq,
    parse_device_topic,
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


# -- topics ------------------------------------------------------------------------------------


def test_topic_builders_and_parser_round_trip() -> None:
    for channel in Channel:
        topic = device_topic("T-0001", channel)
        assert topic == f"hrss/v1/dev/T-0001/{channel.value}"
        parsed = parse_device_topic(topic)
        assert (parsed.device_id, parsed.channel) == ("T-0001", channel)
    assert device_filter("T-0001") == "hrss/v1/dev/T-0001/#"
    assert ALL_DEVICES_FILTER == "hrss/v1/dev/+/+"
    assert MANAGER_SUBSCRIPTION == "$share/hrss-fleet-managers/hrss/v1/dev/+/+"


@pytest.mark.parametrize("device_id", ["", "a/b", "+", "#", "-lead", "x" * 65, "空"])
def test_device_ids_that_could_escape_the_tree_are_rejected(device_id: str) -> None:
    with pytest.raises(TopicError):
        device_topic(device_id, Channel.BIRTH)


@pytest.mark.parametrize(
    "topic",
    ["hrss/v2/dev/T-1/birth", "hrss/v1/dev/T-1", "hrss/v1/dev/T-1/birth/x",
     "hrss/v1/dev/T-1/reboot", "hrss/v1/dev/a+b/birth", "other/v1/dev/T-1/birth"],
)
def test_parser_rejects_foreign_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_device_topic(topic)


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


def test_command_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cmd = Command(device_id="T-1", id="c1", name="ping", expires_at=now)
    assert not cmd.expired(now)
    assert cmd.expired(now + timedelta(milliseconds=1))


# -- presence ordering -------------------------------------------------------------------------


def test_birth_sorts_before_death_within_a_session() -> None:
    assert PresenceKey(5, BIRTH) < PresenceKey(5, DEATH) < PresenceKey(6, BIRTH)


def test_late_will_from_an_old_session_is_not_newer() -> None:
    accepted = PresenceKey(6, BIRTH)
    assert not is_newer(PresenceKey(5, DEATH), accepted)


def test_duplicate_is_not_newer() -> None:
    assert not is_newer(PresenceKey(6, BIRTH), PresenceKey(6, BIRTH))
    assert not is_newer(PresenceKey(6, DEATH), PresenceKey(6, DEATH))


def test_birth_after_its_own_death_is_not_newer() -> None:
    assert not is_newer(PresenceKey(6, BIRTH), PresenceKey(6, DEATH))


def test_own_death_and_next_session_are_newer() -> None:
    assert is_newer(PresenceKey(6, DEATH), PresenceKey(6, BIRTH))
    assert is_newer(PresenceKey(7, BIRTH), PresenceKey(6, DEATH))
    assert is_newer(PresenceKey(0, BIRTH), None)


def test_any_arrival_order_converges_on_the_newest_event() -> None:
    import itertools

    events = [PresenceKey(5, BIRTH), PresenceKey(5, DEATH), PresenceKey(6, BIRTH),
              PresenceKey(6, BIRTH), PresenceKey(4, DEATH)]
    for order in itertools.permutations(events):
        accepted: PresenceKey | None = None
        for event in order:
            if is_newer(event, accepted):
                accepted = event
        assert accepted == PresenceKey(6, BIRTH)
        assert accepted.alive


def test_session_seq_rises_across_restarts_and_clock_jumps() -> None:
    assert next_session_seq(None, 1_000) == 1_000
    assert next_session_seq(1_000, 5_000) == 5_000
    assert next_session_seq(5_000, 2_000) == 5_001  # the clock went back
    assert next_session_seq(5_000, 5_000) == 5_001  # same millisecond
