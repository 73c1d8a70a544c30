"""AgentCore without any I/O: presence, sequencing, commands and jobs as data in, data out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet.agent.core import (
    MAX_ACTIVE_JOBS,
    AgentCore,
    Effect,
    HealthReport,
    Identity,
    NeedReport,
    Publish,
    RecordAnswer,
    SaveJobs,
)
from fleet.agent.records import AnsweredCommand
from fleet.protocol import (
    Birth,
    Command,
    CommandResult,
    Death,
    Health,
    JobState,
    JobUpdate,
    KioskHealth,
    SystemHealth,
    decode,
    encode,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
IDENT = Identity(device_id="T-1", site="hall-1", hostname="kiosk-1", agent_version="1.0.0",
                 health_interval_s=30)
REPORT = HealthReport(
    app_version="2.0.0",
    system=SystemHealth(cpu_percent=1, memory_percent=2, disk_percent=3, uptime_s=4),
    kiosk=KioskHealth(reachable=True, screen="attract"),
    peripherals={},
)


def _online(core: AgentCore | None = None, seq: int = 1_000) -> AgentCore:
    core = core or AgentCore(IDENT)
    core.connecting(seq)
    core.connected("2.0.0", T0)
    return core


def _messages(effects: list[Effect], kind: type | None = None) -> list[Any]:
    decoded = [decode(e.payload) for e in effects if isinstance(e, Publish)]
    return [m for m in decoded if kind is None or isinstance(m, kind)]


def _command(name: str, cid: str = "c1", device: str = "T-1", ttl_s: float = 60,
             **args: Any) -> bytes:
    return encode(Command(device_id=device, id=cid, name=name, args=args,
                          expires_at=T0 + timedelta(seconds=ttl_s)))


class Records:
    """The shell's answered-command store, in memory."""

    def __init__(self) -> None:
        self.answers: dict[str, AnsweredCommand] = {}

    def apply(self, effects: list[Effect]) -> list[Effect]:
        for e in effects:
            if isinstance(e, RecordAnswer):
                self.answers[e.command_id] = e.answer
        return effects

    def get(self, cid: str) -> AnsweredCommand | None:
        return self.answers.get(cid)


# -- presence ---------------------------------------------------------------------------------


def test_will_birth_health_and_death_of_one_session() -> None:
    core = AgentCore(IDENT)
    will = core.connecting(1_000)
    assert will.topic == "hrss/v1/dev/T-1/death"
    assert decode(will.payload) == Death(device_id="T-1", ts=decode(will.payload).ts,
                                         session_seq=1_000, reason="will")
    assert core.health_due(REPORT, T0) == []  # not born yet: nothing goes out

    [birth] = _messages(core.connected("2.0.0", T0))
    assert isinstance(birth, Birth)
    assert (birth.session_seq, birth.app_version, birth.health_interval_s) == (1_000, "2.0.0", 30)
    assert birth.commands == ["cancel-job", "logs", "maintenance", "ping", "rebirth", "reboot",
                              "report-health", "restart-app", "rollback", "screenshot",
                              "set-config", "update", "wait"]

    seqs = [_messages(core.health_due(REPORT, T0))[0].seq for _ in range(3)]
    assert seqs == [1, 2, 3]

    [death] = _messages(core.stopping(T0))
    assert (death.session_seq, death.reason) == (1_000, "shutdown")
    assert core.stopping(T0) == []  # once


def test_a_new_connection_starts_a_new_session_and_counts_health_from_one() -> None:
    core = _online()
    core.health_due(REPORT, T0)
    core.disconnected()
    assert core.health_due(REPORT, T0) == []  # offline: a stale health is worth nothing
    assert core.stopping(T0) == []  # and no death to announce
    with pytest.raises(ValueError, match="rise"):
        core.connecting(1_000)
    _online(core, 1_001)
    [health] = _messages(core.health_due(REPORT, T0))
    assert (health.session_seq, health.seq) == (1_001, 1)


# -- commands ---------------------------------------------------------------------------------


def test_ping_is_recorded_before_its_result_and_repeated_from_the_record() -> None:
    core, records = _online(), Records()
    effects = records.apply(core.command(_command("ping"), T0, records.get))
    assert [type(e) for e in effects] == [RecordAnswer, Publish]
    [result] = _messages(effects)
    assert isinstance(result, CommandResult)
    assert (result.id, result.status, result.output) == ("c1", "ok", {"pong": True})
    assert effects[0].answer.keep_until == (T0 + timedelta(seconds=60)).timestamp() + 3600

    again = core.command(_command("ping"), T0, records.get)
    assert [type(e) for e in again] == [Publish]  # answered, not recorded or run again
    assert _messages(again)[0].output == {"pong": True}


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (_command("ping", device="T-2"), "rejected"),
        (_command("ping", ttl_s=-1), "expired"),
        (_command("reboot-now"), "unknown-command"),
        (_command("wait", seconds=-3), "rejected"),
        (_command("wait", seconds="soon"), "rejected"),
        (_command("wait", seconds=5, fail_at=2), "rejected"),
        (_command("cancel-job"), "rejected"),
        (_command("cancel-job", job_id="nope"), "error"),
    ],
)
def test_commands_that_cannot_run_are_answered_without_running(payload: bytes,
                                                                status: str) -> None:
    core, records = _online(), Records()
    effects = records.apply(core.command(payload, T0, records.get))
    [result] = _messages(effects)
    assert result.status == status
    assert core.jobs == {}
    assert records.get("c1") is not None


def test_garbage_on_the_command_topic_is_dropped() -> None:
    core = _online()
    assert core.command(b"not json", T0, lambda _c: None) == []
    assert core.command(encode(Death(device_id="T-1", session_seq=1)), T0, lambda _c: None) == []


def test_report_health_asks_for_a_report_then_publishes_health_and_answers_its_seq() -> None:
    core, records = _online(), Records()
    payload = _command("report-health")
    assert core.command(payload, T0, records.get) == [NeedReport()]
    effects = records.apply(core.command(payload, T0, records.get, REPORT))
    health, result = _messages(effects)
    assert isinstance(health, Health) and health.seq == 1
    assert result.output == {"health_seq": 1}

    offline = AgentCore(IDENT)
    [result] = _messages(offline.command(_command("report-health", "c2"), T0, records.get,
                                         REPORT))
    assert result.status == "error"


def test_rebirth_publishes_the_birth_of_the_current_session_again() -> None:
    # A manager that has health from a session but no birth for it asks for the birth.
    core, records = _online(seq=1_000), Records()
    payload = _command("rebirth")
    assert core.command(payload, T0, records.get) == [NeedReport()]
    birth, result = _messages(records.apply(core.command(payload, T0, records.get, REPORT)))
    assert isinstance(birth, Birth) and birth.session_seq == 1_000
    assert (result.status, result.output) == ("ok", {"session_seq": 1_000})
    offline = AgentCore(IDENT)
    [result] = _messages(offline.command(_command("rebirth", "c2"), T0, records.get, REPORT))
    assert result.status == "error"


# -- jobs -------------------------------------------------------------------------------------


def _tick(core: AgentCore, seconds: float) -> list[Effect]:
    return core.jobs_due(T0 + timedelta(seconds=seconds))


def test_a_job_runs_from_queued_to_succeeded_with_progress() -> None:
    core, records = _online(), Records()
    effects = records.apply(core.command(_command("wait", "job-1", seconds=10), T0, records.get))
    assert isinstance(effects[0], SaveJobs)
    queued, result = _messages(effects)
    assert isinstance(queued, JobUpdate) and (queued.state, queued.update) == ("queued", 1)
    assert result.output == {"job_id": "job-1", "state": "queued"}

    updates: list[JobUpdate] = []
    for second in range(12):
        updates += _messages(_tick(core, second), JobUpdate)
    assert updates[0].state == JobState.RUNNING
    assert updates[-1].state == JobState.SUCCEEDED
    assert updates[-1].output == {"waited_s": 10.0} and updates[-1].progress == 1.0
    assert [u.update for u in updates] == list(range(2, 2 + len(updates)))  # always rising
    progress = [u.progress for u in updates]
    assert progress == sorted(progress) and 5 <= len(updates) <= 12  # steps, not every tick
    assert _tick(core, 20) == []  # finished: nothing more


def test_jobs_survive_a_restart_and_resume_where_they_stopped() -> None:
    core, records = _online(), Records()
    records.apply(core.command(_command("wait", "job-1", seconds=10), T0, records.get))
    saved: tuple = ()
    for second in range(6):
        for e in _tick(core, second):
            if isinstance(e, SaveJobs):
                saved = e.jobs
    [kept] = saved
    assert kept.state is JobState.RUNNING and 4 <= kept.done_s <= 5

    # The agent restarts (an hour later): a new core from what the shell kept.
    later = T0 + timedelta(hours=1)
    restarted = AgentCore(IDENT, jobs=saved)
    restarted.connecting(2_000)
    [_birth, republished] = _messages(restarted.connected("2.0.0", later), None)
    assert republished.job_id == "job-1" and republished.update == kept.update
    # The redelivered start command is not a second job, even without its answer record.
    [answer] = _messages(restarted.command(_command("wait", "job-1", seconds=10), T0,
                                           lambda _c: None))
    assert answer.output == {"job_id": "job-1", "state": "running"}
    updates: list[JobUpdate] = []
    for second in range(8):
        updates += _messages(restarted.jobs_due(later + timedelta(seconds=second)), JobUpdate)
    assert updates[-1].state == JobState.SUCCEEDED
    assert updates[0].update > kept.update  # receivers keep the highest


def test_cancel_fail_and_the_cap_on_jobs() -> None:
    core, records = _online(), Records()
    records.apply(core.command(_command("wait", "a", seconds=100), T0, records.get))
    effects = records.apply(core.command(_command("cancel-job", "c-a", job_id="a"), T0,
                                         records.get))
    update, result = _messages(effects)
    assert update.state == JobState.CANCELLED and result.output["state"] == "cancelled"
    assert _tick(core, 1) == []  # a cancelled job does not run
    # Cancelling a finished job says how it ended and changes nothing.
    [again] = _messages(core.command(_command("cancel-job", "c-a2", job_id="a"), T0,
                                     records.get))
    assert again.output == {"job_id": "a", "state": "cancelled"}

    records.apply(core.command(_command("wait", "f", seconds=10, fail_at=0.5), T0, records.get))
    updates: list[JobUpdate] = []
    for second in range(10):
        updates += _messages(_tick(core, second), JobUpdate)
    assert (updates[-1].state, updates[-1].error) == (JobState.FAILED, "asked to fail")

    for n in range(MAX_ACTIVE_JOBS):
        records.apply(core.command(_command("wait", f"w{n}", seconds=100), T0, records.get))
    [refused] = _messages(core.command(_command("wait", "one-more", seconds=1), T0,
                                       records.get))
    assert refused.status == "rejected"


def test_job_updates_wait_for_the_birth_while_offline() -> None:
    core, records = AgentCore(IDENT), Records()
    core.connecting(1)
    effects = records.apply(core.command(_command("wait", "j", seconds=1), T0, records.get))
    assert _messages(effects, JobUpdate) == []  # offline: not published...
    assert any(isinstance(e, SaveJobs) for e in effects)  # ...but kept
    assert [m.job_id for m in _messages(core.connected("2.0.0", T0), JobUpdate)] == ["j"]
