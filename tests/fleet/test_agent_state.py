"""The agent's persistent state and its kiosk probe (no MQTT)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from fleet.agent import state
from fleet.agent.health import KioskProbe, system_health
from fleet.agent.state import AnsweredCommand, AnsweredCommands, PeripheralMemory, SessionSeqStore
from tests.fleet.support import FakeKiosk, kiosk_status


def test_session_seq_is_persisted_and_always_rises(tmp_path: Path) -> None:
    store = SessionSeqStore(tmp_path)
    assert store.last() is None
    assert store.next(now_ms=1_000) == 1_000
    assert SessionSeqStore(tmp_path).last() == 1_000  # survives a restart
    assert SessionSeqStore(tmp_path).next(now_ms=500) == 1_001  # clock set back
    assert store.next(now_ms=9_000) == 9_000
    assert list(tmp_path.iterdir()) == [tmp_path / "session_seq"]  # no temp files left


def test_unreadable_session_seq_falls_back_to_the_clock(tmp_path: Path) -> None:
    (tmp_path / "session_seq").write_text("garbage")
    assert SessionSeqStore(tmp_path).next(now_ms=42) == 42


def test_answered_commands_survive_restarts_and_are_pruned(tmp_path: Path) -> None:
    answered = AnsweredCommands(tmp_path)
    answered.record("c1", AnsweredCommand("ok", {"pong": True}, keep_until=2_000), now=1_000)
    reloaded = AnsweredCommands(tmp_path)
    assert reloaded.get("c1") == AnsweredCommand("ok", {"pong": True}, 2_000)
    reloaded.record("c2", AnsweredCommand("expired", {}, keep_until=5_000), now=3_000)
    assert reloaded.get("c1") is None  # past keep_until
    assert set(json.loads((tmp_path / "answered-commands.json").read_text())) == {"c2"}


def test_answered_commands_are_capped(tmp_path: Path) -> None:
    answered = AnsweredCommands(tmp_path)
    answered.MAX_RECORDS = 3  # type: ignore[misc]
    for i in range(5):
        answered.record(f"c{i}", AnsweredCommand("ok", {}, keep_until=10_000 + i), now=0)
    assert [answered.get(f"c{i}") is not None for i in range(5)] == [False, False, True, True,
                                                                     True]


def test_corrupt_answered_file_is_survivable(tmp_path: Path) -> None:
    (tmp_path / "answered-commands.json").write_text("{not json")
    assert AnsweredCommands(tmp_path).get("x") is None


def test_kiosk_probe_reads_the_status_endpoint(tmp_path: Path) -> None:
    kiosk = FakeKiosk()
    kiosk.status = kiosk_status()
    kiosk.status["peripherals"]["printer"] = {"state": "paper-low?", "code": "paper-low"}
    kiosk.start()
    try:
        probe = KioskProbe(kiosk.url, 1.0, PeripheralMemory(tmp_path), expected=[])
        report = probe.report()
    finally:
        kiosk.stop()
    assert report.kiosk.reachable and report.kiosk.screen == "attract"
    assert probe.last_app_version == "2.3.4"
    assert report.peripherals["card_reader"].state == "ok"
    printer = report.peripherals["printer"]
    assert (printer.state, printer.code) == ("degraded", "paper-low")  # unknown state word

    # Kiosk gone, agent restarted: the peripherals it last reported are reported missing.
    probe = KioskProbe(kiosk.url, 0.5, PeripheralMemory(tmp_path), expected=["camera"])
    down = probe.report()
    assert not down.kiosk.reachable
    assert set(down.peripherals) == {"card_reader", "printer", "camera"}
    assert {(p.state, p.code) for p in down.peripherals.values()} == {
        ("missing", "kiosk-unreachable")
    }
    probe.close()


def test_system_health_is_plausible(tmp_path: Path) -> None:
    health = system_health(tmp_path)
    assert 0 <= health.memory_percent <= 100
    assert 0 <= health.disk_percent <= 100
    assert health.uptime_s > 0


def test_a_full_disk_does_not_stop_sessions_or_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionSeqStore(tmp_path)
    assert store.next(now_ms=1_000) == 1_000
    answered = AnsweredCommands(tmp_path)

    def disk_full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state, "write_atomically", disk_full)
    assert store.next(now_ms=2_000) == 2_000  # still connects, on the clock
    assert store.next(now_ms=500) == 2_001  # and still rises within the process
    answered.record("c1", AnsweredCommand("ok", {}, keep_until=10_000), now=0)
    assert answered.get("c1") == AnsweredCommand("ok", {}, 10_000)  # answered from memory
