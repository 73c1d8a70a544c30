"""fleet.protocol.messages and limits: every number has a range, every string a length, and an
out-of-range value fails the decoding of its own message only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from fleet.protocol import (
    MAX_COUNTER,
    MAX_PAYLOAD_BYTES,
    Birth,
    Command,
    CommandResult,
    CommandStatus,
    Death,
    EdgeHealth,
    Health,
    InvalidPayload,
    JobState,
    JobUpdate,
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
    decode,
    encode,
)
from fleet.protocol.limits import MAX_INTERVAL_S, MAX_PERIPHERALS

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _body(message: Any) -> dict[str, Any]:
    return json.loads(encode(message))


BIRTH = Birth(device_id="T-1", ts=NOW, session_seq=7, app_version="1.2.0",
              agent_version="0.1.0", site="hall-1", hostname="kiosk-1", health_interval_s=30,
              commands=["ping"])
HEALTH = Health(
    device_id="T-1", ts=NOW, session_seq=7, seq=3, app_version="1.2.0",
    system=SystemHealth(cpu_percent=3.5, memory_percent=41, disk_percent=12, uptime_s=99),
    kiosk=KioskHealth(reachable=True, screen="attract", session_active=False,
                      app_version="1.2.0"),
    peripherals={"card_reader": PeripheralHealth(state=PeripheralState.OK)},
    edge=EdgeHealth(reachable=True, central_reachable=False, outbox_depth=12,
                    oldest_pending_age_s=30.5, dead_letters=1, outbox_full=False,
                    cache_hit_ratio=0.75),
)
DEATH = Death(device_id="T-1", ts=NOW, session_seq=7)
COMMAND = Command(device_id="T-1", ts=NOW, id="c1", name="ping", expires_at=NOW)
RESULT = CommandResult(device_id="T-1", ts=NOW, id="c1", status=CommandStatus.OK)
JOB = JobUpdate(device_id="T-1", ts=NOW, job_id="j1", name="wait", state=JobState.RUNNING,
                update=2, progress=0.5)

TOO_BIG = MAX_COUNTER + 1
LONG = "x" * 10_000

# (message, path to the field, a value no real terminal can send)
OUT_OF_RANGE = [
    (BIRTH, ("session_seq",), 2**63),
    (BIRTH, ("session_seq",), TOO_BIG),
    (BIRTH, ("session_seq",), -1),
    (BIRTH, ("session_seq",), 1.5),
    (BIRTH, ("session_seq",), True),
    (BIRTH, ("health_interval_s",), 1e300),
    (BIRTH, ("health_interval_s",), MAX_INTERVAL_S + 1),
    (BIRTH, ("health_interval_s",), 0),
    (BIRTH, ("ts",), "9999-12-31T23:59:59Z"),
    (BIRTH, ("ts",), "0001-01-01T00:00:00+14:00"),
    (BIRTH, ("app_version",), LONG),
    (BIRTH, ("agent_version",), LONG),
    (BIRTH, ("site",), LONG),
    (BIRTH, ("hostname",), LONG),
    (BIRTH, ("commands",), ["ping"] * 65),
    (DEATH, ("session_seq",), 2**64),
    (DEATH, ("reason",), LONG),
    (HEALTH, ("seq",), 2**63),
    (HEALTH, ("session_seq",), -5),
    (HEALTH, ("system", "cpu_percent"), 101),
    (HEALTH, ("system", "memory_percent"), -1),
    (HEALTH, ("system", "disk_percent"), 1e308),
    (HEALTH, ("system", "uptime_s"), 1e20),
    (HEALTH, ("kiosk", "screen"), LONG),
    (HEALTH, ("kiosk", "app_version"), LONG),
    (HEALTH, ("peripherals", "card_reader", "code"), LONG),
    (HEALTH, ("peripherals", "card_reader", "reason"), LONG),
    (HEALTH, ("peripherals",), {f"p{i}": {"state": "ok"} for i in range(MAX_PERIPHERALS + 1)}),
    (HEALTH, ("peripherals",), {LONG: {"state": "ok"}}),
    (HEALTH, ("edge", "outbox_depth"), TOO_BIG),
    (HEALTH, ("edge", "outbox_depth"), -1),
    (HEALTH, ("edge", "outbox_depth"), 2.5),
    (HEALTH, ("edge", "dead_letters"), 2**63),
    (HEALTH, ("edge", "oldest_pending_age_s"), -1),
    (HEALTH, ("edge", "oldest_pending_age_s"), 1e20),
    (HEALTH, ("edge", "cache_hit_ratio"), 1.01),
    (HEALTH, ("edge", "cache_hit_ratio"), -0.5),
    (HEALTH, ("edge", "reachable"), "maybe"),
    (COMMAND, ("expires_at",), "9999-12-31T00:00:00Z"),
    (COMMAND, ("id",), LONG),
    (RESULT, ("id",), "a" * 65),
    (JOB, ("update",), TOO_BIG),
    (JOB, ("progress",), 1.5),
    (JOB, ("progress",), -0.1),
    (JOB, ("error",), LONG),
    (JOB, ("state",), "paused"),
]


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


@pytest.mark.parametrize(("message", "path", "value"), OUT_OF_RANGE,
                         ids=[f"{type(m).__name__}.{'.'.join(p)}" for m, p, _ in OUT_OF_RANGE])
def test_an_out_of_range_field_fails_its_message(message: Any, path: tuple[str, ...],
                                                  value: Any) -> None:
    body = _body(message)
    assert decode(json.dumps(body)) == message  # the message itself is fine
    _set(body, path, value)
    with pytest.raises(InvalidPayload, match=path[0]):
        decode(json.dumps(body))


@pytest.mark.parametrize("message", [BIRTH, HEALTH, DEATH, COMMAND, RESULT, JOB])
def test_the_limits_themselves_are_accepted(message: Any) -> None:
    body = _body(message)
    if "session_seq" in body:
        body["session_seq"] = MAX_COUNTER
    if isinstance(message, Birth):
        body["health_interval_s"] = MAX_INTERVAL_S
    body["ts"] = "1970-01-01T00:00:00Z"  # a terminal whose clock battery died
    decoded = decode(json.dumps(body))
    assert decoded.ts == datetime(1970, 1, 1, tzinfo=UTC)


def test_oversized_payloads_are_refused_before_parsing() -> None:
    body = _body(RESULT)
    body["output"] = {"blob": "x" * MAX_PAYLOAD_BYTES}
    with pytest.raises(InvalidPayload, match="exceeds"):
        decode(json.dumps(body).encode())
    with pytest.raises(InvalidPayload, match="exceeds"):
        decode(json.dumps(body))  # as text too
    with pytest.raises(InvalidPayload, match="exceeds"):
        encode(CommandResult(device_id="T-1", id="c1", status=CommandStatus.OK,
                             output={"blob": "x" * MAX_PAYLOAD_BYTES}))


def test_deeply_nested_args_fail_alone() -> None:
    text = encode(COMMAND).decode()
    deep = text.replace('"args":{}', '"args":{"x":' + "[" * 5_000 + "]" * 5_000 + "}")
    assert deep != text
    with pytest.raises(InvalidPayload):
        decode(deep)


def test_job_updates_round_trip_and_know_their_final_states() -> None:
    assert decode(encode(JOB)) == JOB
    assert {s for s in JobState if s.final} == {JobState.SUCCEEDED, JobState.FAILED,
                                                 JobState.CANCELLED}


def test_older_births_without_commands_still_decode() -> None:
    body = _body(BIRTH)
    del body["commands"]
    decoded = decode(json.dumps(body))
    assert isinstance(decoded, Birth) and decoded.commands == []


def test_health_without_an_edge_block_still_decodes() -> None:
    """Agents before 1.2, and agents that read no edge, send no `edge`."""
    body = _body(HEALTH)
    del body["edge"]
    decoded = decode(json.dumps(body))
    assert isinstance(decoded, Health) and decoded.edge is None
    body["edge"] = {"reachable": False}
    decoded = decode(json.dumps(body))
    assert isinstance(decoded, Health) and decoded.edge == EdgeHealth(reachable=False)
    assert decoded.edge.outbox_depth is None and decoded.edge.cache_hit_ratio is None
