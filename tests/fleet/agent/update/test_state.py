"""The durable update state and the decision table for a restart in every phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.agent.update.state import (
    MAX_ATTEMPTS,
    Action,
    Artifact,
    Kind,
    Phase,
    UpdateState,
    UpdateStateStore,
    resume_action,
)

UPDATE = UpdateState(job_id="j-1", kind=Kind.UPDATE, phase=Phase.DOWNLOAD, version="1.1.0",
                     target="kiosk/k-1.1.0.tar.gz", from_version="1.0.0", from_slot="a",
                     to_slot="b")


def test_store_round_trip_and_atomic_file(tmp_path: Path) -> None:
    store = UpdateStateStore(tmp_path)
    assert store.load() is None
    state = UPDATE.at(Phase.COMMIT, artifact=Artifact("/x", "ab" * 32, 10), deadline=12.5,
                      baseline={"peripherals": ["card_reader"], "edge": True})
    store.save(state)
    assert store.load() == state
    assert [p.name for p in tmp_path.iterdir()] == ["update.json"]
    store.path.write_text("{not json")  # an edit or a disk fault: forgotten, not a crash
    assert store.load() is None


# phase the kill left, where `current` points → what the next start does
TABLE = [
    (Phase.DOWNLOAD, "a", Action.DOWNLOAD),
    (Phase.VERIFY, "a", Action.DOWNLOAD),
    (Phase.INSTALL, "a", Action.INSTALL),  # the slot is wiped and written again
    (Phase.WAIT_LOCK, "a", Action.WAIT_LOCK),
    (Phase.SWITCH, "a", Action.SWITCH),  # killed before the rename
    (Phase.SWITCH, "b", Action.SWITCH),  # killed after it: idempotent, then the gate
    (Phase.COMMIT, "b", Action.COMMIT),  # the health gate decides: commit or roll back
    (Phase.ROLLBACK, "b", Action.ROLLBACK),
    (Phase.ROLLBACK, "a", Action.ROLLBACK),
    (Phase.COMMITTED, "b", Action.REPORT),
    (Phase.ROLLED_BACK, "a", Action.REPORT),
    (Phase.REFUSED, "a", Action.REPORT),
    # The file says "before the switch" but the link moved: never skip the health gate.
    (Phase.WAIT_LOCK, "b", Action.SWITCH),
]


@pytest.mark.parametrize(("phase", "current", "action"), TABLE,
                         ids=[f"{p.value}@{c}" for p, c, _ in TABLE])
def test_resume_after_a_kill_in_every_phase(phase: Phase, current: str, action: Action) -> None:
    assert resume_action(UPDATE.at(phase), current) is action


@pytest.mark.parametrize("phase", [Phase.DOWNLOAD, Phase.VERIFY, Phase.INSTALL,
                                   Phase.WAIT_LOCK])
def test_a_phase_that_keeps_killing_the_agent_gives_up_before_the_switch(phase: Phase) -> None:
    state = UPDATE.at(phase, attempt=MAX_ATTEMPTS)
    assert resume_action(state, "a") is Action.GIVE_UP
    assert resume_action(UPDATE.at(phase, attempt=MAX_ATTEMPTS - 1), "a") is not Action.GIVE_UP


@pytest.mark.parametrize("phase", [Phase.SWITCH, Phase.COMMIT, Phase.ROLLBACK])
def test_a_phase_that_keeps_killing_the_agent_rolls_back_after_the_switch(phase: Phase) -> None:
    assert resume_action(UPDATE.at(phase, attempt=MAX_ATTEMPTS), "b") is Action.ROLLBACK


def test_a_rollback_job_always_finishes() -> None:
    rb = UpdateState(job_id="r-1", kind=Kind.ROLLBACK, phase=Phase.WAIT_LOCK, version="1.0.0",
                     from_slot="b", to_slot="a")
    assert resume_action(rb, "b") is Action.WAIT_LOCK
    assert resume_action(rb.at(Phase.SWITCH, attempt=99), "a") is Action.SWITCH
    assert resume_action(rb.at(Phase.ROLLED_BACK), "a") is Action.REPORT
