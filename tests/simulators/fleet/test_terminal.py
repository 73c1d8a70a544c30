"""A virtual terminal is the agent's core with a simulated disk: restarts behave as on a
terminal (higher session_seq, answers and jobs kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.protocol import Birth, Command, Health, decode, encode
from simulators.fleet.terminal import VirtualTerminal

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)


def test_sessions_rise_across_restarts_and_health_is_due_on_its_interval() -> None:
    t = VirtualTerminal("SIM-1", health_interval_s=10)
    t.connecting(T0)
    [birth] = [decode(p.payload) for p in t.connected(T0)]
    assert isinstance(birth, Birth) and birth.session_seq == int(T0.timestamp() * 1000)
    assert len(t.health_due(T0)) == 1
    assert t.health_due(T0 + timedelta(seconds=5)) == []
    [health] = [decode(p.payload) for p in t.health_due(T0 + timedelta(seconds=10))]
    assert isinstance(health, Health) and health.seq == 2 and health.system.cpu_percent >= 0

    t.restart()
    t.connecting(T0)  # same clock reading: still a higher session
    [again] = [decode(p.payload) for p in t.connected(T0)]
    assert again.session_seq == birth.session_seq + 1


def test_answers_and_jobs_survive_a_restart() -> None:
    t = VirtualTerminal("SIM-1")
    t.connecting(T0)
    t.connected(T0)
    cmd = encode(Command(device_id="SIM-1", id="j1", name="wait", args={"seconds": 100},
                         expires_at=T0 + timedelta(minutes=5)))
    first = [decode(p.payload) for p in t.command(cmd, T0)]
    t.restart()
    t.connecting(T0)
    republished = [decode(p.payload) for p in t.connected(T0)]
    assert [getattr(m, "job_id", None) for m in republished] == [None, "j1"]
    again = [decode(p.payload) for p in t.command(cmd, T0)]
    assert again == [first[-1].model_copy(update={"ts": again[0].ts})]  # from the record
