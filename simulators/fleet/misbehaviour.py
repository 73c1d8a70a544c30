"""Messages a buggy or hostile (but authenticated) terminal could send, built on request.

Each returns `(topic, payload)` for a transport to publish. Out-of-range ones are raw JSON: the
protocol's models refuse to build them, which is the point.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from fleet.protocol import Birth, Channel, Death, device_topic, encode
from simulators.fleet.terminal import VirtualTerminal

Message = tuple[str, bytes]

#: Field -> a value out of its range (docs/contracts/fleet-mqtt.md, "Ranges").
OUT_OF_RANGE: dict[str, Any] = {
    "seq": 2**63,
    "session_seq": 2**64,
    "health_interval_s": 1e300,
    "cpu_percent": 1e9,
    "ts": "9999-12-31T23:59:59Z",
}


def _raw(channel: Channel, body: dict[str, Any]) -> Message:
    return device_topic(body["device_id"], channel), json.dumps(body).encode()


def _health_body(t: VirtualTerminal, now: datetime, session_seq: int, seq: int) -> dict[str, Any]:
    report = t.report(now)
    return {
        "schema": "hrss.health/1", "device_id": t.device_id, "ts": now.isoformat(),
        "session_seq": session_seq, "seq": seq, "app_version": report.app_version,
        "system": report.system.model_dump(mode="json"),
        "kiosk": report.kiosk.model_dump(mode="json"),
        "peripherals": {k: v.model_dump(mode="json") for k, v in report.peripherals.items()},
    }


def _birth_body(t: VirtualTerminal, now: datetime, session_seq: int) -> dict[str, Any]:
    return {
        "schema": "hrss.birth/1", "device_id": t.device_id, "ts": now.isoformat(),
        "session_seq": session_seq, "app_version": t.app_version, "agent_version": "sim",
        "site": t.identity.site, "hostname": t.identity.hostname,
        "health_interval_s": t.identity.health_interval_s,
    }


def out_of_range(t: VirtualTerminal, field: str, now: datetime) -> Message:
    """A health (or, for `health_interval_s`, a birth) with `field` out of range."""
    value = OUT_OF_RANGE[field]
    session = t.core.session_seq or 1
    if field == "health_interval_s":
        body = _birth_body(t, now, session)
        body[field] = value
        return _raw(Channel.BIRTH, body)
    body = _health_body(t, now, session, t.core.health_seq + 1)
    if field == "cpu_percent":
        body["system"][field] = value
    else:
        body[field] = value
    return _raw(Channel.HEALTH, body)


def forged_death(t: VirtualTerminal, session_seq: int, now: datetime) -> Message:
    """A death for a session that is not the terminal's (e.g. a huge session_seq)."""
    death = Death(device_id=t.device_id, ts=now, session_seq=session_seq, reason="will")
    return device_topic(t.device_id, Channel.DEATH), encode(death)


def forged_health(t: VirtualTerminal, session_seq: int, now: datetime) -> Message:
    """A health claiming a session the terminal never announced."""
    return _raw(Channel.HEALTH, _health_body(t, now, session_seq, 1))


def late_will(t: VirtualTerminal, old_session_seq: int, now: datetime) -> Message:
    """The Will of an earlier session, arriving after the current birth."""
    return forged_death(t, old_session_seq, now)


def ghost_births(count: int, now: datetime, prefix: str = "GHOST") -> list[Message]:
    """Births from `count` terminals that never say anything again."""
    out: list[Message] = []
    for _ in range(count):
        device_id = f"{prefix}-{secrets.token_hex(4)}"
        birth = Birth(device_id=device_id, ts=now, session_seq=int(now.timestamp() * 1000),
                      app_version="0", agent_version="sim", site="ghost", hostname=device_id,
                      health_interval_s=30)
        out.append((device_topic(device_id, Channel.BIRTH), encode(birth)))
    return out
