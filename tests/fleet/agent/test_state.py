"""The agent's persistent state (fleet.agent.state)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from fleet.agent import state
from fleet.agent.state import AnsweredCommand, AnsweredCommands, SessionSeqStore


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


def test_three_hundred_answers_across_restarts_keep_only_the_last_n(tmp_path: Path) -> None:
    answered = AnsweredCommands(tmp_path, max_records=50)
    for i in range(300):
        if i % 70 == 0:  # the agent restarts now and then
            answered = AnsweredCommands(tmp_path, max_records=50)
        answered.record(f"ping-{i}", AnsweredCommand("ok", {"pong": True}, keep_until=1e10),
                        now=1_000)
    on_disk = json.loads((tmp_path / "answered-commands.json").read_text())
    assert list(on_disk) == [f"ping-{i}" for i in range(250, 300)]  # the last 50, in order
    reloaded = AnsweredCommands(tmp_path, max_records=50)
    assert len(reloaded) == 50
    assert reloaded.get("ping-299") is not None and reloaded.get("ping-249") is None
    # A smaller limit after an upgrade trims the file's records on load.
    assert len(AnsweredCommands(tmp_path, max_records=10)) == 10


def test_a_repeated_answer_moves_to_the_end_and_is_not_doubled(tmp_path: Path) -> None:
    answered = AnsweredCommands(tmp_path, max_records=2)
    answered.record("a", AnsweredCommand("ok", {}, 1e10), now=0)
    answered.record("b", AnsweredCommand("ok", {}, 1e10), now=0)
    answered.record("a", AnsweredCommand("ok", {}, 1e10), now=0)
    answered.record("c", AnsweredCommand("ok", {}, 1e10), now=0)
    assert list(json.loads((tmp_path / "answered-commands.json").read_text())) == ["a", "c"]


def test_jobs_are_kept_whole_and_unreadable_records_skipped(tmp_path: Path) -> None:
    from fleet.agent.records import JobRecord
    from fleet.agent.state import JobStore
    from fleet.protocol import JobState

    job = JobRecord(job_id="j1", name="wait", args={"seconds": 5.0}, state=JobState.RUNNING,
                    update=3, progress=0.4, done_s=2.0, changed_at=10.0)
    JobStore(tmp_path).save([job])
    assert JobStore(tmp_path).load() == [job]
    raw = json.loads((tmp_path / "jobs.json").read_text())
    raw["j2"] = {"job_id": "j2", "state": "exploded"}
    (tmp_path / "jobs.json").write_text(json.dumps(raw))
    assert JobStore(tmp_path).load() == [job]


def test_peripheral_memory_is_bounded(tmp_path: Path) -> None:
    from fleet.agent.state import PeripheralMemory
    from fleet.protocol.limits import MAX_PERIPHERALS

    memory = PeripheralMemory(tmp_path)
    memory.remember({f"p{i}": {"state": "ok"} for i in range(500)})
    assert len(PeripheralMemory(tmp_path).names()) == MAX_PERIPHERALS
